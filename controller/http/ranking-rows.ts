/**
 * Rows of GET /allocation/rankings (SPEC §5) as JSON text. Between two calls only the
 * servers that reported in between change (at 5,000 agents reporting every 5 s and a
 * call every 20 ms, about 20 of 5,000), so each server's row text is kept with the
 * values it was made from and made again only when one of them differs. The values are
 * compared one by one on every call, so a kept text is never stale.
 */
import type { ServerState } from '../fleet/server-state.js';
import type { Candidate } from '../placement/types.js';

/** One row as an object (with the score breakdown when `withBreakdown`). */
export function rankingRow(rank: number, c: Candidate, s: ServerState, withBreakdown: boolean) {
  return {
    rank, server_id: c.server_id, load_score: c.load_score, eligible: c.eligible, reasons: c.reasons,
    status: s.status, healthy: s.healthy, location: s.location,
    cpu_percent: s.cpu_percent, memory_percent: s.memory_percent, disk_percent: s.disk_percent,
    accounts: s.accounts, reported_accounts: s.reported_accounts, max_accounts: s.max_accounts,
    latency_ms: s.latency_ms, last_report_at: s.last_report_at === null ? null : new Date(s.last_report_at).toISOString(),
    consecutive_failures: s.consecutive_failures,
    ...(withBreakdown ? { breakdown: c.breakdown } : {}),
  };
}

/** The server's figures a row shows, in the row's order (after the decision's own fields). */
const SERVER_FIELDS = [
  'status', 'healthy', 'location', 'cpu_percent', 'memory_percent', 'disk_percent', 'accounts',
  'reported_accounts', 'max_accounts', 'latency_ms', 'last_report_at', 'consecutive_failures',
] as const satisfies readonly (keyof ServerState)[];

/** A row's text without its rank, and everything it was made from. */
interface Kept {
  text: string;
  candidate: Candidate;
  /** The values of {@link SERVER_FIELDS} when the text was made. */
  server: unknown[];
}

function sameReasons(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function unchanged(k: Kept, c: Candidate, s: ServerState): boolean {
  const was = k.candidate;
  if (was.server_id !== c.server_id || was.load_score !== c.load_score || was.eligible !== c.eligible || !sameReasons(was.reasons, c.reasons)) return false;
  for (let i = 0; i < SERVER_FIELDS.length; i++) if (k.server[i] !== s[SERVER_FIELDS[i]!]) return false;
  return true;
}

/** Row texts kept per server (the fleet's server objects; a removed server's entry goes with it). */
export class RankingRowTexts {
  readonly #kept = new WeakMap<ServerState, Kept>();

  /** The row of rank `rank` as JSON text. */
  text(rank: number, c: Candidate, s: ServerState): string {
    let k = this.#kept.get(s);
    if (k === undefined || !unchanged(k, c, s)) {
      k = {
        // `{"rank":0,` dropped: the rank is written in front on every call.
        text: JSON.stringify(rankingRow(0, c, s, false)).slice('{"rank":0,'.length),
        candidate: { server_id: c.server_id, load_score: c.load_score, eligible: c.eligible, reasons: [...c.reasons] },
        server: SERVER_FIELDS.map((f) => s[f]),
      };
      this.#kept.set(s, k);
    }
    return `{"rank":${rank},${k.text}`;
  }
}
