/**
 * `location`: only servers whose location equals the request's; when none is eligible,
 * fall back to `load_balance` and say so, unless the request is `strict` (SPEC §3).
 */
import { locationFilter } from '../filters/location.js';
import { loadScore } from '../scorers/load-score.js';
import { chooseLowestScore } from './load-balance.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { lowestScoreReason, noneFits, ranksBefore } from './strategy.js';

function chooseByLocation(input: StrategyInput): Choice {
  const { servers, request, weights, eligible } = input;
  const wanted = request.location;
  if (wanted === null) {
    const c = chooseLowestScore(input);
    return { ...c, reason: `no location given; ${c.reason}` };
  }
  // One pass tracks both the best server in the location and the best overall.
  let bestIn = -1, bestInScore = 0, bestInId = '', countIn = 0;
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
    if (server.location === wanted) {
      countIn++;
      if (bestIn < 0 || ranksBefore(score, id, bestInScore, bestInId)) {
        bestIn = i; bestInScore = score; bestInId = id;
      }
    }
  }
  if (bestIn >= 0) {
    return { index: bestIn, score: bestInScore, reason: lowestScoreReason(bestInScore, countIn, ` in ${wanted}`), ruled: true };
  }
  if (request.strict) return noneFits(`no eligible server in ${wanted} (strict)`);
  if (bestAll < 0) return noneFits(`no eligible server in ${wanted} nor anywhere else among ${servers.length}`);
  return {
    index: bestAll,
    score: bestAllScore,
    reason: `no eligible server in ${wanted}; fell back to load_balance: ${lowestScoreReason(bestAllScore, countAll)}`,
    ruled: false,
  };
}

/** The `location` strategy. */
export const locationStrategy = {
  name: 'location',
  filters: [locationFilter],
  choose: chooseByLocation,
} as const satisfies PlacementStrategy;
