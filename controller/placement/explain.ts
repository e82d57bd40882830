/**
 * The explanation of a decision: every server with its eligibility, every rejection
 * reason and its score breakdown. Built in a second pass, only when asked for or when
 * nothing fits, so the decision itself stays allocation-free.
 */
import { roundBreakdown, scoreBreakdown } from './scorers/load-score.js';
import type { Candidate, Filter, PlacementRequest, ServerView, Weights } from './types.js';

/**
 * Every server as a {@link Candidate}: eligible first, then by exact score, then by
 * server id. Scores are rounded to two decimals for display.
 */
export function explainServers(
  servers: readonly ServerView[],
  request: PlacementRequest,
  weights: Readonly<Weights>,
  filters: readonly Filter[],
): Candidate[] {
  const rows = servers.map((server) => {
    const reasons: string[] = [];
    for (const filter of filters) {
      if (!filter.passes(server, request)) reasons.push(filter.reason(server, request));
    }
    const exact = scoreBreakdown(server, weights);
    const breakdown = roundBreakdown(exact);
    const candidate: Candidate = {
      server_id: server.server_id,
      eligible: reasons.length === 0,
      reasons,
      load_score: breakdown.total,
      breakdown,
    };
    return { candidate, exact: exact.total };
  });
  rows.sort((a, b) => {
    if (a.candidate.eligible !== b.candidate.eligible) return a.candidate.eligible ? -1 : 1;
    if (a.exact !== b.exact) return a.exact - b.exact;
    const x = a.candidate.server_id;
    const y = b.candidate.server_id;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return rows.map((r) => r.candidate);
}
