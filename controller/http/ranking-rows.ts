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

/** A row's text without its rank, and everything it was made from. */
interface Kept {
  text: string;
  server_id: string;
  load_score: number;
  eligible: boolean;
  reasons: readonly string[];
  status: string;
  healthy: boolean;
  location: string | null;
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  accounts: number;
  reported_accounts: number | null;
  max_accounts: number;
  latency_ms: number | null;
  last_report_at: number | null;
  consecutive_failures: number;
}

function sameReasons(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row texts kept per server (the fleet's server objects; a removed server's entry goes with it). */
export class RankingRowTexts {
  readonly #kept = new WeakMap<ServerState, Kept>();

  /** The row of rank `rank` as JSON text. */
  text(rank: number, c: Candidate, s: ServerState): string {
    let k = this.#kept.get(s);
    if (
      k === undefined || k.server_id !== c.server_id || k.load_score !== c.load_score || k.eligible !== c.eligible ||
      !sameReasons(k.reasons, c.reasons) || k.status !== s.status || k.healthy !== s.healthy || k.location !== s.location ||
      k.cpu_percent !== s.cpu_percent || k.memory_percent !== s.memory_percent || k.disk_percent !== s.disk_percent ||
      k.accounts !== s.accounts || k.reported_accounts !== s.reported_accounts || k.max_accounts !== s.max_accounts ||
      k.latency_ms !== s.latency_ms || k.last_report_at !== s.last_report_at || k.consecutive_failures !== s.consecutive_failures
    ) {
      const row = rankingRow(0, c, s, false);
      k = {
        // `{"rank":0,` dropped: the rank is written in front on every call.
        text: JSON.stringify(row).slice('{"rank":0,'.length),
        server_id: c.server_id, load_score: c.load_score, eligible: c.eligible, reasons: [...c.reasons],
        status: s.status, healthy: s.healthy, location: s.location,
        cpu_percent: s.cpu_percent, memory_percent: s.memory_percent, disk_percent: s.disk_percent,
        accounts: s.accounts, reported_accounts: s.reported_accounts, max_accounts: s.max_accounts,
        latency_ms: s.latency_ms, last_report_at: s.last_report_at, consecutive_failures: s.consecutive_failures,
      };
      this.#kept.set(s, k);
    }
    return `{"rank":${rank},${k.text}`;
  }
}
