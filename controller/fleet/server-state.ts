/**
 * Live state of one worker server: its config, the agent's last report, and the
 * accounts the controller has assigned to it (including placements in flight). The
 * placement pipeline reads these objects directly as {@link ServerView}s.
 */
import { accountListBytes } from '../../shared/protocol.js';
import type { ServerConfig } from '../config.js';
import type { ServerStatus, ServerView } from '../placement/types.js';
import type { ScriptIndex } from './script-index.js';

/** How long a server counts as "down recently" for isolation. */
export const DOWN_RECENTLY_MS = 60 * 60 * 1000;

/** One server's live state. Mutated only by the {@link Fleet}. */
export class ServerState implements ServerView {
  config: ServerConfig;
  /** Admin override of the configured status (cordon, drain), or null. */
  statusOverride: ServerStatus | null = null;

  connected = false;
  /** A report arrived on the current connection. */
  reportedOnConnection = false;
  healthy = false;
  cpu_percent = 0;
  memory_percent = 0;
  disk_percent = 0;
  load_avg: number[] = [];
  latency_ms: number | null = null;
  last_report_at: number | null = null;
  consecutive_failures = 0;
  last_down_at: number | null = null;
  /** When the agent's socket last closed; null while connected or never seen. */
  disconnected_at: number | null = null;
  down_recently = false;
  /** Ids the agent last reported as present; null before the first report. */
  reportedIds: readonly string[] | null = null;
  agent: { version: string; hostname: string; sessions_dir: string } | null = null;

  /** Accounts committed to this server. */
  readonly assigned = new Map<string, string | null>();
  /** Flows working on this server's copies right now (see `Fleet.hold`). */
  holds = 0;
  /** Placements in flight: account id → script id. */
  readonly inFlight = new Map<string, string | null>();
  /** JSON bytes of the ids in {@link assigned} and {@link inFlight}, as an agent-protocol list. */
  account_list_bytes = 0;
  /** Accounts per script id, committed and in flight. */
  readonly scripts = new Map<string, number>();
  /** Position in the fleet's server list, and the fleet's script index (kept in step with `scripts`). */
  position = -1;
  index: ScriptIndex | null = null;

  constructor(config: ServerConfig) {
    this.config = config;
  }

  get server_id(): string {
    return this.config.server_id;
  }

  get status(): ServerStatus {
    return this.statusOverride ?? this.config.status;
  }

  get location(): string | null {
    return this.config.location;
  }

  get max_accounts(): number {
    return this.config.max_accounts;
  }

  /** Committed plus in-flight accounts. */
  get accounts(): number {
    return this.assigned.size + this.inFlight.size;
  }

  get reported_accounts(): number | null {
    return this.reportedIds ? this.reportedIds.length : null;
  }

  /**
   * Adds an account to `assigned` or `inFlight`, with the counts derived from both
   * (accounts per script, the list's JSON bytes) kept in step.
   */
  enter(where: Map<string, string | null>, accountId: string, scriptId: string | null): void {
    where.set(accountId, scriptId);
    this.account_list_bytes += accountListBytes(accountId);
    this.countScript(scriptId, 1);
  }

  /** Takes an account out of `assigned` or `inFlight` (see {@link enter}); false when it was not there. */
  leave(where: Map<string, string | null>, accountId: string): boolean {
    if (!where.has(accountId)) return false;
    const scriptId = where.get(accountId)!;
    where.delete(accountId);
    this.account_list_bytes -= accountListBytes(accountId);
    this.countScript(scriptId, -1);
    return true;
  }

  /** Adds `delta` to the count of `scriptId`. */
  private countScript(scriptId: string | null, delta: number): void {
    if (scriptId === null) return;
    const n = (this.scripts.get(scriptId) ?? 0) + delta;
    if (n <= 0) this.scripts.delete(scriptId);
    else this.scripts.set(scriptId, n);
    this.index?.add(scriptId, this.position, delta);
  }

  /** Recomputes `down_recently` for `now`. */
  refreshDownRecently(now: number): void {
    this.down_recently = this.last_down_at !== null && now - this.last_down_at < DOWN_RECENTLY_MS;
  }
}
