/**
 * What a placement strategy is (SPEC §3 "Strategies"), and the helpers they share.
 * A strategy chooses among the servers that pass the default filters in ONE pass over
 * the fleet, allocating nothing per server; explanations are built elsewhere, only when
 * asked for or when nothing fits.
 */
import type { Filter, PlacementRequest, ScriptCounts, ServerView, Strategy, Weights } from '../types.js';
import { formatScore, loadScore } from '../scorers/load-score.js';

/** Whether a server passes the default filters; allocation-free. */
export type EligibilityCheck = (server: ServerView, request: PlacementRequest) => boolean;

/** What a strategy is given: the fleet, the request, normalised weights, the default filters' check. */
export interface StrategyInput {
  readonly servers: readonly ServerView[];
  readonly request: PlacementRequest;
  readonly weights: Readonly<Weights>;
  /** The default filters, fused (see `passesDefaultFilters` in the registry). */
  readonly eligible: EligibilityCheck;
  /** Script counts by server position, when the caller keeps them. */
  readonly counts?: ScriptCounts | undefined;
}

/** A strategy's decision. */
export interface Choice {
  /** Index of the chosen server in `servers`, or -1 when none fits. */
  readonly index: number;
  /** The chosen server's exact score (0 when none). */
  readonly score: number;
  /** A short sentence for people; when `index` is -1, why nothing fits. */
  readonly reason: string;
  /**
   * Whether the strategy's own hard rules ({@link PlacementStrategy.filters}) were in
   * force for this decision; false when it fell back to `load_balance`.
   */
  readonly ruled: boolean;
}

/** A placement strategy plugin. */
export interface PlacementStrategy {
  readonly name: Strategy;
  /** The strategy's own hard rules, applied after the default filters (when they apply). */
  readonly filters: readonly Filter[];
  /** Chooses a server in one pass. */
  choose(input: StrategyInput): Choice;
}

/** True when (score, id) ranks before (bestScore, bestId): lower score, then smaller id. */
export function ranksBefore(score: number, id: string, bestScore: number, bestId: string): boolean {
  return score < bestScore || (score === bestScore && id < bestId);
}

/** "3 eligible servers" / "1 eligible server". */
export function eligibleCount(n: number): string {
  return `${n} eligible server${n === 1 ? '' : 's'}`;
}

/** "lowest load score 23.40 among 3 eligible servers". */
export function lowestScoreReason(score: number, eligible: number, suffix = ''): string {
  return `lowest load score ${formatScore(score)} among ${eligibleCount(eligible)}${suffix}`;
}

/** The decision when no server passes. */
export function noneFits(reason: string, ruled = true): Choice {
  return { index: -1, score: 0, reason, ruled };
}

/** The best eligible server within a subset, and the best overall, from one pass. */
export interface SubsetBest {
  /** Index of the lowest-scored eligible member, or -1. */
  inIndex: number;
  inScore: number;
  /** Eligible members. */
  inCount: number;
  /** Index of the lowest-scored eligible server of any kind, or -1. */
  allIndex: number;
  allScore: number;
  allCount: number;
}

/**
 * One allocation-free pass for strategies that prefer a subset and fall back to
 * `load_balance` (location, affinity): `member(server, i)` says whether a server is in it.
 */
export function bestInSubset(input: StrategyInput, member: (server: ServerView, index: number) => boolean): SubsetBest {
  const { servers, request, weights, eligible } = input;
  let inIndex = -1, inScore = 0, inId = '', inCount = 0;
  let allIndex = -1, allScore = 0, allId = '', allCount = 0;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]!;
    if (!eligible(server, request)) continue;
    allCount++;
    const score = loadScore(server, weights);
    const id = server.server_id;
    if (allIndex < 0 || ranksBefore(score, id, allScore, allId)) {
      allIndex = i; allScore = score; allId = id;
    }
    if (member(server, i)) {
      inCount++;
      if (inIndex < 0 || ranksBefore(score, id, inScore, inId)) {
        inIndex = i; inScore = score; inId = id;
      }
    }
  }
  return { inIndex, inScore, inCount, allIndex, allScore, allCount };
}
