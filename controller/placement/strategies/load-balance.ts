/** `load_balance`: the eligible server with the lowest load score (SPEC §3). */
import { loadScore } from '../scorers/load-score.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { lowestScoreReason, noneFits, ranksBefore } from './strategy.js';

/** Lowest score among the servers passing `filters`, ties by server id. One pass, no allocation. */
export function chooseLowestScore({ servers, request, weights, eligible }: StrategyInput): Choice {
  let best = -1;
  let bestScore = 0;
  let bestId = '';
  let count = 0;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]!;
    if (!eligible(server, request)) continue;
    count++;
    const score = loadScore(server, weights);
    if (best < 0 || ranksBefore(score, server.server_id, bestScore, bestId)) {
      best = i;
      bestScore = score;
      bestId = server.server_id;
    }
  }
  if (best < 0) return noneFits(`no eligible server among ${servers.length}`);
  return { index: best, score: bestScore, reason: lowestScoreReason(bestScore, count), ruled: true };
}

/** The `load_balance` strategy. */
export const loadBalanceStrategy = {
  name: 'load_balance',
  filters: [],
  choose: chooseLowestScore,
} as const satisfies PlacementStrategy;
