/**
 * `affinity`: among eligible servers already hosting at least one account of the same
 * `script_id`, the lowest score; none → `load_balance`, saying so (SPEC §3).
 */
import { affinityFilter } from '../filters/affinity.js';
import { chooseLowestScore } from './load-balance.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { bestInSubset, lowestScoreReason } from './strategy.js';

function chooseByAffinity(input: StrategyInput): Choice {
  const { servers, request, counts } = input;
  const script = request.script_id;
  if (script === null) {
    const c = chooseLowestScore(input);
    return { ...c, reason: `no script_id given; ${c.reason}` };
  }
  // With the caller's count arrays, "runs the script" is an array read.
  const column = counts ? counts.of(script) : null;
  const best = bestInSubset(input, column === null
    ? (server) => (server.scripts.get(script) ?? 0) >= 1
    : (_server, i) => column !== undefined && (column[i] ?? 0) >= 1);
  if (best.inIndex >= 0) {
    return {
      index: best.inIndex,
      score: best.inScore,
      reason: lowestScoreReason(best.inScore, best.inCount, ` already running script ${script}`),
      ruled: true,
    };
  }
  if (best.allIndex < 0) return { index: -1, score: 0, reason: `no eligible server among ${servers.length}`, ruled: false };
  return {
    index: best.allIndex,
    score: best.allScore,
    reason: `no eligible server runs script ${script} yet; fell back to load_balance: ${lowestScoreReason(best.allScore, best.allCount)}`,
    ruled: false,
  };
}

/** The `affinity` strategy. */
export const affinityStrategy = {
  name: 'affinity',
  filters: [affinityFilter],
  choose: chooseByAffinity,
} as const satisfies PlacementStrategy;
