/**
 * Keeps workers and the database in agreement: finishes or rolls back moves a crash cut
 * short, compares each agent's first report after it connects with its assignment
 * (drift), collects leftover copies of accounts that live elsewhere, and retries
 * pending accounts.
 */
import type { Logger } from '../../shared/log.js';
import type { Alerts } from '../alerts.js';
import type { ControllerSettings } from '../config.js';
import type { Fleet } from '../fleet/fleet.js';
import type { MoveRow } from '../store/database.js';
import type { SessionFiles } from '../store/session-files.js';
import type { Store } from '../store/store.js';
import { fencedCopyOwner } from '../transfer/remote-names.js';
import type { SessionTransfer } from '../transfer/session-transfer.js';
import type { AccountLocks } from './account-locks.js';
import type { Allocator } from './allocate.js';

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  fleet: Fleet;
  store: Store;
  sessions: SessionFiles;
  transfer: SessionTransfer;
  locks: AccountLocks;
  logger: Logger;
  alerts: Alerts;
  settings: () => ControllerSettings;
}

/** How many unfinished moves one recovery pass settles at a time. */
const RECOVERY_CONCURRENCY = 8;

/** State of one recovery pass. */
interface RecoveryPass {
  /**
   * Servers whose listing failed in this pass (timed out, refused, unknown): later moves
   * heading for one of them are left for the next pass at once instead of each waiting
   * out `upload_timeout_ms` against the same frozen server. (A move's way back home
   * always looks for itself: rolling back unchecked could leave a fenced copy unrestored.)
   */
  readonly unreachable: Map<string, string>;
}

/** Reconciles workers with the database. */
export class Reconciler {
  /** Servers whose next report must be checked for drift. */
  private readonly checkNext = new Set<string>();
  private recovering: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = 1000;
  private closed = false;

  constructor(private readonly o: ReconcilerOptions) {}

  /** An agent was welcomed: check its next report, and collect its leftovers. */
  agentWelcomed(serverId: string): void {
    this.checkNext.add(serverId);
  }

  /** A report arrived. */
  reportArrived(serverId: string): void {
    if (!this.checkNext.delete(serverId)) return;
    void this.checkServer(serverId).catch((e) => this.o.logger.warn({ server_id: serverId, err: (e as Error).message }, 'drift check failed'));
  }

  /** Compares a worker's session directory with its assignment and mends what it safely can. */
  async checkServer(serverId: string): Promise<void> {
    const { fleet, transfer, logger } = this.o;
    // Missing means assigned before the listing was taken and still assigned: an account
    // placed while the listing was in flight is not in it, and is not missing.
    const assignedBefore = fleet.assignedTo(serverId);
    const listing = await transfer.listRemote(serverId, { timeoutMs: this.o.settings().upload_timeout_ms });
    const assigned = new Set(fleet.assignedTo(serverId));
    const live = new Set(listing.live);
    const extra = listing.live.filter((id) => !assigned.has(id));
    const missing = assignedBefore.filter((id) => assigned.has(id) && !live.has(id) && !fleet.get(serverId)?.inFlight.has(id));
    const leftovers = new Set<string>();
    for (const name of listing.fenced) {
      const owner = fencedCopyOwner(name);
      if (owner && !assigned.has(owner)) leftovers.add(owner);
    }
    for (const id of extra) leftovers.add(id);
    if (extra.length > 0 || missing.length > 0) {
      logger.warn({ server_id: serverId, extra, missing }, 'drift between the worker and the database');
      this.o.alerts.emit({ event: 'drift', severity: 'warning', server_id: serverId, message: `server ${serverId}: ${extra.length} session(s) not assigned to it, ${missing.length} assigned session(s) missing` });
    }
    const settle = async (what: string, id: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        logger.warn({ server_id: serverId, account_id: id, err: (e as Error).message }, `drift: ${what} failed; retried at the next connection`);
      }
    };
    for (const id of leftovers) await settle('collecting a leftover copy', id, () => this.collectLeftover(serverId, id));
    for (const id of missing) await settle('restoring a missing session', id, () => this.restoreMissing(serverId, id));
  }

  /** A copy on a server the account is not assigned to: collect it (it must not be live there). */
  private async collectLeftover(serverId: string, accountId: string): Promise<void> {
    const { store, sessions, transfer, fleet, logger } = this.o;
    await this.o.locks.with(accountId, async () => {
      if (fleet.serverOf(accountId) === serverId) return;
      const acc = await store.accounts.get(accountId);
      if (!acc) {
        logger.warn({ server_id: serverId, account_id: accountId }, 'unknown session on a worker left in place (not an account of this controller)');
        return;
      }
      await transfer.fenceAndCollect(serverId, accountId, {
        timeoutMs: this.o.settings().upload_timeout_ms,
        onCollected: async ({ bytes }) => {
          if (!bytes) return;
          if (!acc.server_id) {
            // The account waits for a server: this copy is the freshest there is.
            const digest = await sessions.write(accountId, bytes);
            await store.accounts.setSessionDigest(accountId, digest, new Date().toISOString());
          } else {
            await sessions.keepRecovered(accountId, serverId, bytes);
          }
        },
      });
      logger.info({ server_id: serverId, account_id: accountId, lives_on: acc.server_id }, 'leftover session collected from a worker');
    });
  }

  /** An assigned session missing on its worker: upload the controller's copy again. */
  private async restoreMissing(serverId: string, accountId: string): Promise<void> {
    const { sessions, transfer, fleet, logger } = this.o;
    await this.o.locks.with(accountId, async () => {
      if (fleet.serverOf(accountId) !== serverId) return;
      // An unsettled move may have a copy live elsewhere: recovery decides, not this.
      if (await this.o.store.ledger.get(accountId)) return;
      // Look again under the lock: the copy may have landed since the listing.
      if (await transfer.isLive(serverId, accountId, { timeoutMs: this.o.settings().upload_timeout_ms })) return;
      const bytes = await sessions.read(accountId);
      if (!bytes) return;
      await transfer.upload(serverId, accountId, bytes, { timeoutMs: this.o.settings().upload_timeout_ms });
      logger.warn({ server_id: serverId, account_id: accountId }, 'missing session restored from the controller\'s copy');
    });
  }

  /**
   * Finishes or rolls back the moves left in the journal, up to 8 at a time (each under
   * its account's lock). A server that cannot be listed is not asked again in the same
   * pass, so a pass costs about one `upload_timeout_ms` per unreachable server rather
   * than one per move. One pass runs at a time; while some moves cannot be settled yet,
   * it tries again soon (2 s, doubling up to a minute) rather than only at the next
   * minute's job.
   */
  recoverMoves(): Promise<void> {
    this.recovering ??= this.recoverAll().finally(() => (this.recovering = null));
    return this.recovering;
  }

  private async recoverAll(): Promise<void> {
    const moves = await this.o.store.ledger.unfinished();
    const pass: RecoveryPass = { unreachable: new Map() };
    let unsettled = 0;
    let next = 0;
    const settleNext = async (): Promise<void> => {
      while (next < moves.length && !this.closed) {
        const move = moves[next++]!;
        try {
          // Wait for any flow on the account: when it ends, its own row is usually gone.
          await this.o.locks.with(move.account_id, async () => {
            if (this.closed) return;
            const current = await this.o.store.ledger.get(move.account_id);
            if (current) await this.recoverOne(current, pass);
          });
        } catch (e) {
          unsettled++;
          this.o.logger.warn({ account_id: move.account_id, err: (e as Error).message }, 'unfinished move not recovered yet; will retry');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_CONCURRENCY, moves.length) }, settleNext));
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.closed) return;
    if (unsettled > 0) {
      this.retryMs = Math.min(60_000, this.retryMs * 2);
      this.retryTimer = setTimeout(() => void this.recoverMoves(), this.retryMs);
      this.retryTimer.unref();
    } else {
      this.retryMs = 1000;
    }
  }

  /** Stops the retry timer; a pass running takes no further move. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Whether the account's session is live on a server; throws when that cannot be known. */
  private async isLive(serverId: string, accountId: string, pass: RecoveryPass, useMemo: boolean): Promise<boolean> {
    if (!this.o.fleet.get(serverId)) throw new Error(`server ${serverId} is not configured; cannot check it`);
    const failed = useMemo ? pass.unreachable.get(serverId) : undefined;
    if (failed !== undefined) throw new Error(`server ${serverId} could not be listed earlier in this pass: ${failed}`);
    try {
      const listing = await this.o.transfer.listRemote(serverId, { timeoutMs: this.o.settings().upload_timeout_ms });
      return listing.live.includes(accountId);
    } catch (e) {
      pass.unreachable.set(serverId, (e as Error).message);
      throw e;
    }
  }

  /**
   * Settles one journal row. A new copy that landed is adopted (it is the only live one:
   * uploads happen only after fencing). Otherwise the move is rolled back to where the
   * database places the account, putting the controller's copy back if fencing had
   * removed it; with nowhere to go back to, the account waits as pending. Throws (to be
   * retried) while a server it must look at cannot be reached.
   */
  private async recoverOne(move: MoveRow, pass: RecoveryPass): Promise<void> {
    const { store, fleet, sessions, transfer, logger } = this.o;
    const id = move.account_id;
    const to = move.to_server_id;
    const acc = await store.accounts.get(id);
    const now = new Date().toISOString();
    const timeoutMs = this.o.settings().upload_timeout_ms;
    if (to !== null && await this.isLive(to, id, pass, true)) {
      if (!acc) {
        // The account is gone: its stray copy must not stay live.
        await transfer.fenceAndCollect(to, id, { timeoutMs, onCollected: async ({ bytes }) => { if (bytes) await sessions.keepRecovered(id, to, bytes); } });
        await store.ledger.abandon(id);
        return;
      }
      await store.ledger.commit({ account_id: id, server_id: to, from_server_id: move.from_server_id, allocation_type: move.allocation_type, load_score: null, strategy: null, reason: 'completed by recovery (the upload had landed)' }, now);
      fleet.assign(id, to, acc.script_id);
      logger.info({ account_id: id, server_id: to }, 'unfinished move completed');
      return;
    }
    if (!acc) {
      await store.ledger.abandon(id);
      return;
    }
    const home = acc.server_id;
    if (move.allocation_type === 'release') {
      if (home && fleet.get(home)) {
        fleet.unassign(id);
        await transfer.fenceAndCollect(home, id, { timeoutMs, onCollected: async ({ bytes }) => { if (bytes) await sessions.write(id, bytes); } });
      }
      await store.ledger.commit({ account_id: id, server_id: null, from_server_id: home, allocation_type: 'release', load_score: null, strategy: null, reason: 'release completed by recovery' }, now, { deleteAccount: true });
      fleet.unassign(id);
      return;
    }
    if (home && fleet.get(home)) {
      let live: boolean | null = null;
      try {
        live = await this.isLive(home, id, pass, false);
      } catch {
        // Unreachable: it stays assigned there and failover takes over once its lease is out.
      }
      if (live === false) {
        const bytes = await sessions.read(id);
        if (bytes) await transfer.upload(home, id, bytes, { timeoutMs });
      }
      await store.ledger.abandon(id);
      if (fleet.serverOf(id) !== home) fleet.assign(id, home, acc.script_id);
      logger.info({ account_id: id, server_id: home, restored: live === false }, 'unfinished move rolled back');
      return;
    }
    await store.ledger.commit({ account_id: id, server_id: null, from_server_id: home, allocation_type: move.allocation_type, load_score: null, strategy: null, reason: 'unfinished placement rolled back by recovery; pending' }, now, { status: 'pending' });
    fleet.unassign(id);
  }

  /** The every-minute job: recover moves, then place pending accounts. */
  async retryPending(allocator: Allocator): Promise<void> {
    await this.recoverMoves();
    for (const id of await this.o.store.accounts.listPending(200)) {
      if (this.o.locks.busy(id)) continue;
      await allocator.placePending(id);
    }
  }
}
