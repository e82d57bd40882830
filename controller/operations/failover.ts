/**
 * Failover (SPEC §7): a server down for `failover_after_ms` loses its accounts to
 * healthy servers. When SSH still reaches it, each account is fenced and collected
 * first and re-placed at once; when it does not, accounts are re-placed from the
 * controller's last copy only after the agent's lease has run out (it has fenced
 * itself by then).
 */
import type { Logger } from '../../shared/log.js';
import type { Alerts } from '../alerts.js';
import type { ControllerSettings } from '../config.js';
import type { Fleet } from '../fleet/fleet.js';
import type { ServerState } from '../fleet/server-state.js';
import type { Store } from '../store/store.js';
import type { SessionTransfer } from '../transfer/session-transfer.js';
import type { Mover } from './mover.js';
import type { MigrationResult } from './types.js';

/** Moves run at once during a failover. */
const FAILOVER_CONCURRENCY = 8;

/** Options of {@link FailoverMonitor}. */
export interface FailoverOptions {
  fleet: Fleet;
  store: Store;
  mover: Mover;
  transfer: SessionTransfer;
  logger: Logger;
  alerts: Alerts;
  settings: () => ControllerSettings;
  /** When the controller started: the lease of an agent never seen counts from here. */
  startedAt?: number;
}

/** Watches for servers down long enough and moves their accounts away. */
export class FailoverMonitor {
  private readonly running = new Map<string, Promise<MigrationResult[]>>();
  /** No new attempt on a server before this time (after a run that left accounts behind). */
  private readonly notBefore = new Map<string, number>();
  private readonly startedAt: number;

  constructor(private readonly o: FailoverOptions) {
    this.startedAt = o.startedAt ?? Date.now();
  }

  /** Called on every health tick. */
  tick(now: number): void {
    const c = this.o.settings();
    for (const s of this.o.fleet.servers) {
      if (s.healthy || s.assigned.size === 0 || this.running.has(s.server_id)) continue;
      const silentSince = s.last_report_at ?? this.startedAt;
      if (now - silentSince < c.failover_after_ms || now < (this.notBefore.get(s.server_id) ?? 0)) continue;
      const run = this.failover(s).finally(() => {
        this.running.delete(s.server_id);
        this.notBefore.set(s.server_id, Date.now() + Math.max(2000, c.report_interval_ms));
      });
      this.running.set(s.server_id, run);
    }
  }

  /** Failovers in progress (for tests and shutdown). */
  inProgress(): Promise<MigrationResult[]>[] {
    return [...this.running.values()];
  }

  /** True when the agent cannot still be running its sessions: disconnected for longer than its lease. */
  private leaseExpired(s: ServerState, now: number): boolean {
    const c = this.o.settings();
    if (s.connected) return false;
    const lostContact = Math.max(s.disconnected_at ?? this.startedAt, s.last_report_at ?? 0);
    return now - lostContact >= c.lease_ms + c.report_interval_ms;
  }

  private async failover(s: ServerState): Promise<MigrationResult[]> {
    const { mover, transfer, logger, alerts } = this.o;
    const c = this.o.settings();
    const serverId = s.server_id;
    let reachable = true;
    try {
      await transfer.listRemote(serverId, { timeoutMs: Math.min(c.upload_timeout_ms, 5000) });
    } catch {
      reachable = false;
    }
    if (!reachable && !this.leaseExpired(s, Date.now())) {
      logger.info({ server_id: serverId }, 'server down and unreachable over SSH; waiting for its agent lease to run out before failover');
      return [];
    }
    const accounts = this.o.fleet.assignedTo(serverId);
    logger.warn({ server_id: serverId, accounts: accounts.length, ssh_reachable: reachable }, 'failover started');
    alerts.emit({ event: 'failover', severity: 'critical', server_id: serverId, message: `server ${serverId} down: moving ${accounts.length} account(s) away (${reachable ? 'fenced over SSH' : 'from the controller\'s copies after the agent lease ran out'})` });
    const results: MigrationResult[] = [];
    const queue = [...accounts];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        if (this.o.fleet.serverOf(id) !== serverId) continue;
        try {
          const r = await mover.move({
            account_id: id, allocation_type: 'failover', source_lost: !reachable, expected_from: serverId,
            still_lost: () => this.leaseExpired(s, Date.now()),
            context: reachable ? `server ${serverId} down; old copy fenced over SSH` : `server ${serverId} down and unreachable; re-placed from the controller's copy after the agent lease expired`,
          });
          results.push({ account_id: id, from_server_id: serverId, to_server_id: r.server_id, status: 'moved' });
        } catch (e) {
          results.push({ account_id: id, from_server_id: serverId, to_server_id: '', status: 'failed', error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: FAILOVER_CONCURRENCY }, worker));
    const failed = results.filter((r) => r.status === 'failed').length;
    logger.warn({ server_id: serverId, moved: results.length - failed, failed }, 'failover finished');
    return results;
  }
}
