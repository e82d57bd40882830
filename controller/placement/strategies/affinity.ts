/**
 * `affinity`: among eligible servers already hosting at least one account of the same
 * `script_id`, the lowest score; none → `load_balance`, saying so (SPEC §3).
 */
import { affinityFilter } from '../filters/affinity.js';
import { loadScore } from '../scorers/load-score.js';
import { chooseLowestScore } from './load-balance.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { lowestScoreReason, ranksBefore } from './strategy.js';

function chooseByAffinity(input: StrategyInput): Choice {
  const { servers, request, weights, eligible, counts } = input;
  const script = request.script_id;
  const column = counts && script !== null ? counts.of(script) : null;
  if (script === null) {
    const c = chooseLowestScore(input);
    return { ...c, reason: `no script_id given; ${c.reason}` };
  }
  let bestHost = -1, bestHostScore = 0, bestHostId = '', countHost = 0;
  let bestAll = -1, bestAllScore = 0, bestAllId = '', countAll = 0;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]!;
    if (!eligible(server, request)) continue;
    countAll++;
    const score = loadScore(server, weights);
    const id = server.server_id;
    if (bestAll < 0 || ranksBefore(score, id, bestAllScore, bestAllId)) {
      bestAll = i; bestAllScore = score; bestAllId = id;
    }
    const hosted = column === null ? (server.scripts.get(script) ?? 0) : column === undefined ? 0 : (column[i] ?? 0);
    if (hosted >= 1) {
      countHost++;
      if (bestHost < 0 || ranksBefore(score, id, bestHostScore, bestHostId)) {
        bestHost = i; bestHostScore = score; bestHostId = id;
      }
    }
  }
  if (bestHost >= 0) {
    return {
      index: bestHost,
      score: bestHostScore,
      reason: lowestScoreReason(bestHostScore, countHost, ` already running script ${script}`),
      ruled: true,
    };
  }
  if (bestAll < 0) return { index: -1, score: 0, reason: `no eligible server among ${servers.length}`, ruled: false };
  return {
    index: bestAll,
    score: bestAllScore,
    reason: `no eligible server runs script ${script} yet; fell back to load_balance: ${lowestScoreReason(bestAllScore, countAll)}`,
    ruled: false,
  };
}

/** The `affinity` strategy. */
export const affinityStrategy = {
  name: 'affinity',
  filters: [affinityFilter],
  choose: chooseByAffinity,
} as const satisfies PlacementStrategy;
