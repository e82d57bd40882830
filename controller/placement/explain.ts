/**
 * The explanation of a decision: every server with its eligibility, every rejection
 * reason and its score breakdown. Built in a second pass, only when asked for or when
 * nothing fits, so the decision itself stays allocation-free.
 */
import { loadScore, roundBreakdown, roundScore, scoreBreakdown } from './scorers/load-score.js';
import type { Candidate, Filter, PlacementRequest, ServerView, Weights } from './types.js';

/** The reasons of an eligible server: one shared, frozen empty list. */
const NO_REASONS: string[] = Object.freeze([]) as unknown as string[];

/**
 * Every server as a {@link Candidate}: eligible first, then by exact score, then by
 * server id. Scores are rounded to two decimals for display. Without `withBreakdown`
 * the candidates carry only the total: a whole-fleet ranking then allocates one object
 * per server instead of five.
 */
export function explainServers(
  servers: readonly ServerView[],
  request: PlacementRequest,
  weights: Readonly<Weights>,
  filters: readonly Filter[],
  withBreakdown = true,
): Candidate[] {
  const n = servers.length;
  const exact = new Float64Array(n);
  const candidates: Candidate[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const server = servers[i]!;
    let reasons: string[] | null = null;
    for (const filter of filters) {
      if (!filter.passes(server, request)) (reasons ??= []).push(filter.reason(server, request));
    }
    let candidate: Candidate;
    if (withBreakdown) {
      const parts = scoreBreakdown(server, weights);
      const breakdown = roundBreakdown(parts);
      exact[i] = parts.total;
      candidate = { server_id: server.server_id, eligible: reasons === null, reasons: reasons ?? [], load_score: breakdown.total, breakdown };
    } else {
      exact[i] = loadScore(server, weights);
      candidate = { server_id: server.server_id, eligible: reasons === null, reasons: reasons ?? NO_REASONS, load_score: roundScore(exact[i]!) };
    }
    candidates[i] = candidate;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const ca = candidates[a]!;
    const cb = candidates[b]!;
    if (ca.eligible !== cb.eligible) return ca.eligible ? -1 : 1;
    if (exact[a] !== exact[b]) return exact[a]! - exact[b]!;
    const x = ca.server_id;
    const y = cb.server_id;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return order.map((i) => candidates[i]!);
}
