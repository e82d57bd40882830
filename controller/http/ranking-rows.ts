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

/**
 * A row's text without its rank, and every value it was made from, as fields of this one
 * object. The check runs over every server on every call; kept as a candidate copy plus
 * an array of values read by computed keys, it cost 5.7 ms a call at 5,000 servers in
 * the controller's profile under the ingest bench, as fields compared one by one 2.4 ms.
 */
class Kept {
  readonly server_id: string;
  readonly load_score: number;
  readonly eligible: boolean;
  readonly reasons: readonly string[];
  readonly status: ServerState['status'];
  readonly healthy: boolean;
  readonly location: string | null;
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
  readonly accounts: number;
  readonly reported_accounts: number | null;
  readonly max_accounts: number;
  readonly latency_ms: number | null;
  readonly last_report_at: number | null;
  readonly consecutive_failures: number;
  readonly text: string;

  constructor(c: Candidate, s: ServerState) {
    this.server_id = c.server_id;
    this.load_score = c.load_score;
    this.eligible = c.eligible;
    this.reasons = c.reasons.length === 0 ? NO_REASONS : [...c.reasons];
    this.status = s.status;
    this.healthy = s.healthy;
    this.location = s.location;
    this.cpu_percent = s.cpu_percent;
    this.memory_percent = s.memory_percent;
    this.disk_percent = s.disk_percent;
    this.accounts = s.accounts;
    this.reported_accounts = s.reported_accounts;
    this.max_accounts = s.max_accounts;
    this.latency_ms = s.latency_ms;
    this.last_report_at = s.last_report_at;
    this.consecutive_failures = s.consecutive_failures;
    // `{"rank":0,` dropped: the rank is written in front on every call.
    this.text = JSON.stringify(rankingRow(0, c, s, false)).slice('{"rank":0,'.length);
  }

  /** Whether the row made now would be this one: every value the text shows compared. */
  matches(c: Candidate, s: ServerState): boolean {
    return this.load_score === c.load_score && this.cpu_percent === s.cpu_percent && this.last_report_at === s.last_report_at
      && this.memory_percent === s.memory_percent && this.disk_percent === s.disk_percent
      && this.eligible === c.eligible && this.healthy === s.healthy && this.accounts === s.accounts
      && this.reported_accounts === s.reported_accounts && this.latency_ms === s.latency_ms
      && this.consecutive_failures === s.consecutive_failures && this.status === s.status
      && this.location === s.location && this.max_accounts === s.max_accounts
      && this.server_id === c.server_id && sameReasons(this.reasons, c.reasons);
  }
}

const NO_REASONS: readonly string[] = Object.freeze([]);

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
    if (k === undefined || !k.matches(c, s)) {
      k = new Kept(c, s);
      this.#kept.set(s, k);
    }
    return `{"rank":${rank},${k.text}`;
  }
}
