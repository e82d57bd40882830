/**
 * The fleet: every configured server's live state, which account lives where, and the
 * reservations of placements in flight. Emits events the agent hub, alerts and
 * failover listen to.
 */
import { EventEmitter } from 'node:events';
import type { ServerConfig } from '../config.js';
import type { ServerStatus } from '../placement/types.js';
import { ScriptIndex } from './script-index.js';
import { ServerState } from './server-state.js';

/** A report's figures, as applied to a server. */
export interface ServerReport {
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  load_avg: number[];
  accounts: string[];
}

/** Events of the fleet. */
export interface FleetEvents {
  /** The server's assignment list changed (an account `added` or `removed`); its agent must be told. */
  assignment: [serverId: string, change: 'added' | 'removed'];
  server_down: [serverId: string];
  server_up: [serverId: string];
  /** A report arrived (after it was applied). */
  report: [serverId: string];
}

/** A placement in flight: counted on its server until committed or released. */
export interface Reservation {
  readonly server_id: string;
  readonly account_id: string;
  /** Turns the reservation into an assignment. */
  commit(): void;
  /** Gives the slot back. Safe to call after commit (does nothing). */
  release(): void;
}

/** Live fleet state. */
export class Fleet extends EventEmitter<FleetEvents> {
  private readonly byId = new Map<string, ServerState>();
  /** Account id → server id, for committed placements. */
  private readonly accountServer = new Map<string, string>();
  private list: ServerState[] = [];
  /** Script counts by server position, for placement. */
  readonly scriptCounts = new ScriptIndex();

  constructor(servers: Iterable<ServerConfig>) {
    super();
    this.applyConfig(servers);
  }

  /** Every server, in id order. The array is replaced, never mutated, on config change. */
  get servers(): readonly ServerState[] {
    return this.list;
  }

  /** One server's state. */
  get(serverId: string): ServerState | undefined {
    return this.byId.get(serverId);
  }

  /** The server an account is committed to. */
  serverOf(accountId: string): string | undefined {
    return this.accountServer.get(accountId);
  }

  /**
   * Applies a (re)loaded server list: new servers added, changed ones updated in place,
   * removed ones dropped. Returns the ids removed that still had accounts (they are
   * kept until those accounts are moved).
   */
  applyConfig(servers: Iterable<ServerConfig>): { added: string[]; removed: string[]; changed: string[] } {
    const seen = new Set<string>();
    const added: string[] = [];
    const changed: string[] = [];
    for (const cfg of servers) {
      seen.add(cfg.server_id);
      const existing = this.byId.get(cfg.server_id);
      if (existing) {
        if (JSON.stringify(existing.config) !== JSON.stringify(cfg)) changed.push(cfg.server_id);
        existing.config = cfg;
      } else {
        this.byId.set(cfg.server_id, new ServerState(cfg));
        added.push(cfg.server_id);
      }
    }
    const removed: string[] = [];
    for (const [id, s] of this.byId) {
      if (!seen.has(id)) {
        removed.push(id);
        if (s.assigned.size === 0 && s.inFlight.size === 0 && s.holds === 0) {
          this.byId.delete(id);
          s.index = null;
        }
        else s.statusOverride = 'disabled';
      }
    }
    this.list = [...this.byId.values()].sort((a, b) => (a.server_id < b.server_id ? -1 : a.server_id > b.server_id ? 1 : 0));
    for (const s of this.list) s.index = this.scriptCounts;
    this.scriptCounts.rebuild(this.list);
    return { added, removed, changed };
  }

  /** Loads committed placements (at start). Unknown servers are reported back. */
  loadAssignments(rows: Iterable<{ account_id: string; server_id: string | null; script_id: string | null }>): string[] {
    const unknown: string[] = [];
    for (const r of rows) {
      if (!r.server_id) continue;
      const s = this.byId.get(r.server_id);
      if (!s) {
        unknown.push(r.account_id);
        continue;
      }
      s.enter(s.assigned, r.account_id, r.script_id);
      this.accountServer.set(r.account_id, r.server_id);
    }
    return unknown;
  }

  /** Reserves a slot on a server for a placement in flight. */
  reserve(serverId: string, accountId: string, scriptId: string | null): Reservation {
    const s = this.byId.get(serverId);
    if (!s) throw new Error(`unknown server ${serverId}`);
    s.enter(s.inFlight, accountId, scriptId);
    let open = true;
    return {
      server_id: serverId,
      account_id: accountId,
      commit: () => {
        if (!open) return;
        open = false;
        s.leave(s.inFlight, accountId);
        this.assign(accountId, serverId, scriptId);
      },
      release: () => {
        if (!open) return;
        open = false;
        s.leave(s.inFlight, accountId);
      },
    };
  }

  /**
   * Keeps a server in the fleet while a flow still works on it (fencing its copy), even
   * if a reload removes it meanwhile. Returns the release.
   */
  hold(serverId: string): () => void {
    const s = this.byId.get(serverId);
    if (!s) return () => undefined;
    s.holds++;
    let held = true;
    return () => {
      if (held) {
        held = false;
        s.holds--;
      }
    };
  }

  /** Commits an account to a server (removing it from any other). */
  assign(accountId: string, serverId: string, scriptId: string | null): void {
    this.unassign(accountId);
    const s = this.byId.get(serverId);
    if (!s) throw new Error(`unknown server ${serverId}`);
    s.enter(s.assigned, accountId, scriptId);
    this.accountServer.set(accountId, serverId);
    this.emit('assignment', serverId, 'added');
  }

  /** Removes an account from its server, if any. */
  unassign(accountId: string): void {
    const from = this.accountServer.get(accountId);
    if (from === undefined) return;
    this.accountServer.delete(accountId);
    const s = this.byId.get(from);
    if (!s) return;
    s.leave(s.assigned, accountId);
    this.emit('assignment', from, 'removed');
  }

  /** Account ids assigned to a server, sorted. */
  assignedTo(serverId: string): string[] {
    const s = this.byId.get(serverId);
    return s ? [...s.assigned.keys()].sort() : [];
  }

  /** Sets or clears an admin status override. */
  setStatusOverride(serverId: string, status: ServerStatus | null): void {
    const s = this.byId.get(serverId);
    if (s) s.statusOverride = status;
  }

  /** Applies an agent report; a report makes the server healthy. */
  applyReport(serverId: string, report: ServerReport, now: number): void {
    const s = this.byId.get(serverId);
    if (!s) return;
    s.cpu_percent = report.cpu_percent;
    s.memory_percent = report.memory_percent;
    s.disk_percent = report.disk_percent;
    s.load_avg = report.load_avg;
    s.reportedIds = report.accounts;
    s.last_report_at = now;
    s.reportedOnConnection = true;
    s.consecutive_failures = 0;
    const wasHealthy = s.healthy;
    s.healthy = s.connected;
    if (!wasHealthy && s.healthy) this.emit('server_up', serverId);
    this.emit('report', serverId);
  }

  /** Marks the agent connection state. */
  setConnected(serverId: string, connected: boolean): void {
    const s = this.byId.get(serverId);
    if (!s) return;
    if (s.connected && !connected) s.disconnected_at = Date.now();
    if (connected) s.disconnected_at = null;
    // Coming back up needs a report on this connection, not one left from an earlier one.
    s.reportedOnConnection = false;
    s.connected = connected;
  }

  /**
   * Health tick: a server whose last report is older than `downAfterMs` (or whose agent
   * is gone) is down; every missed interval counts as a failure (SPEC §6). A report is
   * missed half an interval after it was due (reports are sent an interval after the
   * previous one went out, plus the time to measure); a server that never reported
   * misses one each interval since the controller started.
   */
  tick(now: number, downAfterMs: number, intervalMs: number, startedAt: number): void {
    for (const s of this.list) {
      const since = s.last_report_at ?? startedAt;
      const age = now - since;
      s.consecutive_failures = Math.max(0, Math.floor((s.last_report_at === null ? age : age - intervalMs / 2) / intervalMs));
      const fresh = s.connected && s.last_report_at !== null && age < downAfterMs;
      if (s.healthy && !fresh) {
        s.healthy = false;
        s.last_down_at = now;
        this.emit('server_down', s.server_id);
      } else if (!s.healthy && fresh && s.reportedOnConnection) {
        // Back up only on a report over the current connection, not on one left from before.
        s.healthy = true;
        this.emit('server_up', s.server_id);
      }
      s.refreshDownRecently(now);
    }
  }
}
