/**
 * The placement pipeline (SPEC §3), after Nomad's feasibility → rank stack:
 *
 *   servers ──▶ default filters (status, healthy, capacity, disk, exclusion)
 *           ──▶ strategy (its hard rules + its ranking, ties by server id)
 *           ──▶ Placement | NoEligibleServer (every server's reasons)
 *
 * Pure: reads a snapshot, does no I/O, allocates nothing per server unless an
 * explanation is asked for or nothing fits.
 */
import { err, ok, type Result } from '../../shared/result.js';
import { BerthError } from '../../shared/errors.js';
import { explainServers } from './explain.js';
import { applicableFilters, passesDefaultFilters, STRATEGY_REGISTRY } from './registry.js';
import { normaliseWeights, roundScore } from './scorers/load-score.js';
import { isolationOrder } from './strategies/isolation.js';
import type { Choice, PlacementStrategy } from './strategies/strategy.js';
import type {
  Candidate,
  Filter,
  NoEligibleServer,
  Placement,
  PlacementRequest,
  RankingRequest,
  ScriptCounts,
  ServerView,
  Weights,
} from './types.js';

function strategyOf(request: PlacementRequest): PlacementStrategy {
  const strategy = STRATEGY_REGISTRY[request.strategy];
  if (strategy === undefined) throw new BerthError('INVALID_REQUEST', `unknown strategy ${String(request.strategy)}`);
  return strategy;
}

/** The filters a decision's explanation shows: defaults, then the strategy's rules when they were in force. */
function explanationFilters(strategy: PlacementStrategy, request: PlacementRequest, choice: Choice): readonly Filter[] {
  const defaults = applicableFilters(request);
  if (!choice.ruled) return defaults;
  const own = strategy.filters.filter((f) => f.applies(request));
  return own.length === 0 ? defaults : [...defaults, ...own];
}

/**
 * Chooses the server for one account. Returns the placement, or `NO_ELIGIBLE_SERVER`
 * with every server's reasons. `weights` need not be normalised. Throws
 * `INVALID_REQUEST` only for an unknown strategy or invalid weights. `counts`, when
 * given, must agree with the servers' `scripts` (it only makes the decision faster).
 */
export function place(
  servers: readonly ServerView[],
  request: PlacementRequest,
  weights: Weights,
  counts?: ScriptCounts,
): Result<Placement, NoEligibleServer> {
  const w = normaliseWeights(weights);
  const strategy = strategyOf(request);
  const choice = strategy.choose({ servers, request, weights: w, eligible: passesDefaultFilters, counts });
  if (choice.index < 0) {
    return err({
      code: 'NO_ELIGIBLE_SERVER',
      message: choice.reason,
      candidates: explainServers(servers, request, w, explanationFilters(strategy, request, choice)),
    });
  }
  const placement: Placement = {
    server_id: servers[choice.index]!.server_id,
    strategy: request.strategy,
    load_score: roundScore(choice.score),
    reason: choice.reason,
  };
  if (request.explain) placement.candidates = explainServers(servers, request, w, explanationFilters(strategy, request, choice));
  return ok(placement);
}

/** A full {@link PlacementRequest} from a rankings query. */
export function rankingToRequest(query: RankingRequest): PlacementRequest {
  return {
    account_id: '',
    script_id: query.script_id ?? null,
    strategy: query.strategy ?? 'load_balance',
    location: query.location ?? null,
    strict: query.strict ?? false,
    exclude: query.exclude ?? null,
    explain: true,
  };
}

/**
 * Every server as a {@link Candidate}, eligible first, then by score, then by id (GET
 * /allocation/rankings); for `isolation`, eligible servers in isolation's own order. A server is eligible when the request could be placed on it:
 * the strategy's hard rules count as they would for a placement (a `location` query with
 * no eligible server there and no `strict` falls back, as placement would).
 * `options.breakdown` (default true) gives each candidate its score breakdown.
 */
export function rankServers(
  servers: readonly ServerView[],
  query: RankingRequest | PlacementRequest,
  weights: Weights,
  options: { breakdown?: boolean } = {},
): Candidate[] {
  const request = 'account_id' in query ? query : rankingToRequest(query);
  const w = normaliseWeights(weights);
  const strategy = strategyOf(request);
  const choice = strategy.choose({ servers, request, weights: w, eligible: passesDefaultFilters });
  const candidates = explainServers(servers, request, w, explanationFilters(strategy, request, choice), options.breakdown ?? true);
  if (request.strategy !== 'isolation') return candidates;
  // Eligible servers in the order isolation prefers them, so rank 1 is its choice.
  const eligible = candidates.filter((c) => c.eligible);
  const order = isolationOrder(servers, request.script_id, new Set(eligible.map((c) => c.server_id)), w);
  eligible.sort((a, b) => order(a.server_id, b.server_id));
  return [...eligible, ...candidates.filter((c) => !c.eligible)];
}
