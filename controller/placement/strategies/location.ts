/**
 * `location`: only servers whose location equals the request's; when none is eligible,
 * fall back to `load_balance` and say so, unless the request is `strict` (SPEC §3).
 */
import { locationFilter } from '../filters/location.js';
import { chooseLowestScore } from './load-balance.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { bestInSubset, lowestScoreReason, noneFits } from './strategy.js';

function chooseByLocation(input: StrategyInput): Choice {
  const { servers, request } = input;
  const wanted = request.location;
  if (wanted === null) {
    const c = chooseLowestScore(input);
    return { ...c, reason: `no location given; ${c.reason}` };
  }
  const best = bestInSubset(input, (server) => server.location === wanted);
  if (best.inIndex >= 0) {
    return { index: best.inIndex, score: best.inScore, reason: lowestScoreReason(best.inScore, best.inCount, ` in ${wanted}`), ruled: true };
  }
  if (request.strict) return noneFits(`no eligible server in ${wanted} (strict)`);
  if (best.allIndex < 0) return noneFits(`no eligible server in ${wanted} nor anywhere else among ${servers.length}`);
  return {
    index: best.allIndex,
    score: best.allScore,
    reason: `no eligible server in ${wanted}; fell back to load_balance: ${lowestScoreReason(best.allScore, best.allCount)}`,
    ruled: false,
  };
}

/** The `location` strategy. */
export const locationStrategy = {
  name: 'location',
  filters: [locationFilter],
  choose: chooseByLocation,
} as const satisfies PlacementStrategy;
