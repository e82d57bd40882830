/**
 * Moves and releases: fence and collect the old copy first (SPEC §0, §4), store it as
 * the freshest copy, and only then place it elsewhere. A move that cannot place the
 * account puts it back where it was, or leaves it pending; never on two workers.
 */
import { BerthError, isBerthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Strategy } from '../placement/types.js';
import type { SessionFiles } from '../store/session-files.js';
import type { Store } from '../store/store.js';
import type { FenceError, SessionTransfer } from '../transfer/session-transfer.js';
import type { AccountLocks } from './account-locks.js';
import type { Placer } from './placer.js';
import type { AllocationResult } from './types.js';

/** Options of {@link Mover}. */
export interface MoverOptions {
  store: Store;
  sessions: SessionFiles;
  fleet: Fleet;
  transfer: SessionTransfer;
  placer: Placer;
  locks: AccountLocks;
  logger: Logger;
  settings: () => { upload_timeout_ms: number; default_strategy: Strategy };
  onMove?: (type: string, outcome: 'ok' | 'failed') => void;
}

/** How a move was asked for. */
export interface MoveRequest {
  account_id: string;
  allocation_type: 'manual' | 'rebalance' | 'drain' | 'failover';
  /** Target server (manual, rebalance); else the placement pipeline chooses. */
  to_server_id?: string | undefined;
  /**
   * The source is unreachable and its agent's lease has run out: skip fencing and use
   * the controller's last copy (failover only). `still_lost` is asked again right
   * before the account is taken off the source; if the agent came back meanwhile the
   * move is refused (it must then be fenced over SSH).
   */
  source_lost?: boolean;
  still_lost?: () => boolean;
  /** Refuse (CONFLICT) unless the account is still on this server (another flow may have moved it). */
  expected_from?: string;
  context?: string;
}

/** Fences, collects and re-places accounts. */
export class Mover {
  constructor(private readonly o: MoverOptions) {}

  /**
   * Fences the account on `serverId` and stores the collected copy. Returns the digest
   * of the stored copy (null when the worker had none).
   */
  async fenceAndStore(serverId: string, accountId: string): Promise<string | null> {
    let digest: string | null = null;
    // The worker's copy is stored before anything is removed from the worker, so a
    // crash in between cannot lose the freshest session.
    await this.o.transfer.fenceAndCollect(serverId, accountId, {
      timeoutMs: this.o.settings().upload_timeout_ms,
      onCollected: async ({ bytes }) => {
        if (bytes) digest = await this.store(accountId, bytes);
      },
    });
    return digest;
  }

  /** Uploads the controller's copy back to a server whose copy a failed fence may have removed. */
  private async restoreOn(serverId: string, accountId: string): Promise<void> {
    try {
      const bytes = await this.o.sessions.read(accountId);
      const { live } = await this.o.transfer.listRemote(serverId, { timeoutMs: this.o.settings().upload_timeout_ms });
      if (bytes && !live.includes(accountId)) await this.o.transfer.upload(serverId, accountId, bytes, { timeoutMs: this.o.settings().upload_timeout_ms });
    } catch (e) {
      this.o.logger.warn({ server_id: serverId, account_id: accountId, err: (e as Error).message }, 'could not put the session back after a failed fence; drift repair will');
    }
  }

  private async store(accountId: string, bytes: Buffer): Promise<string> {
    const digest = await this.o.sessions.write(accountId, bytes);
    await this.o.store.accounts.setSessionDigest(accountId, digest, new Date().toISOString());
    return digest;
  }

  /** Moves an account. Throws ACCOUNT_NOT_FOUND, CONFLICT (not placed), or the placement error. */
  async move(req: MoveRequest): Promise<AllocationResult> {
    return this.o.locks.with(req.account_id, () => this.moveLocked(req));
  }

  private async moveLocked(req: MoveRequest): Promise<AllocationResult> {
    const { store, fleet, placer, logger } = this.o;
    const acc = await store.accounts.get(req.account_id);
    if (!acc) throw new BerthError('ACCOUNT_NOT_FOUND', `account ${req.account_id} not found`, { account_id: req.account_id });
    const from = acc.server_id;
    if (!from) throw new BerthError('CONFLICT', `account ${req.account_id} is not placed on any server`, { account_id: req.account_id, status: acc.status });
    if (req.expected_from !== undefined && from !== req.expected_from) {
      throw new BerthError('CONFLICT', `account ${req.account_id} is on ${from} now, not ${req.expected_from}`, { account_id: req.account_id, server_id: from });
    }
    if (await store.ledger.get(req.account_id)) {
      throw new BerthError('CONFLICT', `account ${req.account_id} has an unresolved move; it is retried automatically`, { account_id: req.account_id });
    }
    if (req.to_server_id === from) throw new BerthError('INVALID_REQUEST', `account ${req.account_id} is already on ${from}`);
    if (req.to_server_id !== undefined && !fleet.get(req.to_server_id)) throw new BerthError('SERVER_NOT_FOUND', `server ${req.to_server_id} is not configured`);
    const now = () => new Date().toISOString();
    const job = {
      account_id: req.account_id, script_id: acc.script_id, strategy: (acc.strategy as Strategy | null) ?? this.o.settings().default_strategy,
      location: acc.location, strict: false, server_id: req.to_server_id, allocation_type: req.allocation_type,
      from_server_id: from, exclude: [from], explain: false, context: req.context,
    };
    // Choose first: no point fencing when nothing could take the account.
    placer.choose({ ...job, bytes: Buffer.alloc(0) });
    await store.ledger.begin({ account_id: req.account_id, from_server_id: from, to_server_id: null, phase: 'fencing', allocation_type: req.allocation_type }, now());
    if (req.source_lost && req.still_lost && !req.still_lost()) {
      await store.ledger.abandon(req.account_id);
      throw new BerthError('CONFLICT', `server ${from} came back before account ${req.account_id} was moved; it must be fenced first`, { server_id: from });
    }
    // No await between the check above and this: the source's agent cannot be welcomed
    // with the account in its list once it is unassigned here.
    fleet.unassign(req.account_id);
    if (!req.source_lost) {
      const release = fleet.hold(from);
      try {
        await this.fenceAndStore(from, req.account_id);
      } catch (e) {
        // Not fenced: the account stays where it is; the move is abandoned. When removal
        // had begun, put the stored copy back (best effort; drift repair does it otherwise).
        if (fleet.get(from)) {
          fleet.assign(req.account_id, from, acc.script_id);
          if ((e as FenceError).collected !== undefined) await this.restoreOn(from, req.account_id);
        }
        this.o.onMove?.(req.allocation_type, 'failed');
        throw e;
      } finally {
        release();
        if (fleet.serverOf(req.account_id) === from) await store.ledger.abandon(req.account_id);
      }
    }
    const bytes = await this.o.sessions.read(req.account_id);
    if (!bytes) {
      await store.ledger.commit({ account_id: req.account_id, server_id: null, from_server_id: from, allocation_type: req.allocation_type, load_score: null, strategy: null, reason: 'no copy of the session exists anywhere; account left pending' }, now(), { status: 'pending' });
      this.o.onMove?.(req.allocation_type, 'failed');
      throw new BerthError('SESSION_FILE_NOT_FOUND', `account ${req.account_id} has no session copy to move`);
    }
    try {
      const result = await placer.placeAndCommit({ ...job, bytes });
      this.o.onMove?.(req.allocation_type, 'ok');
      return result;
    } catch (e) {
      this.o.onMove?.(req.allocation_type, 'failed');
      if (isBerthError(e) && e.details?.maybe_live === true) {
        // A copy may be live on the server that failed: the journal keeps pointing at it
        // and recovery fences or adopts it. Putting the account back now could make two.
        logger.error({ account_id: req.account_id, server_id: e.details.server_id }, 'move left a copy that may be live; recovery will settle it');
        throw e;
      }
      logger.warn({ account_id: req.account_id, from_server_id: from, code: (e as BerthError).code }, 'move could not place the account; trying to put it back');
      await this.putBack(req, from, acc.script_id, bytes, (e as Error).message);
      throw e;
    }
  }

  /** After a failed placement: back onto the source when it can take it, else pending. */
  private async putBack(req: MoveRequest, from: string, scriptId: string | null, bytes: Buffer, why: string): Promise<void> {
    const { store, fleet, transfer } = this.o;
    const now = new Date().toISOString();
    const source = fleet.get(from);
    if (!req.source_lost && source) {
      try {
        await store.ledger.begin({ account_id: req.account_id, from_server_id: null, to_server_id: from, phase: 'placing', allocation_type: req.allocation_type }, now);
        await transfer.upload(from, req.account_id, bytes, { timeoutMs: this.o.settings().upload_timeout_ms });
        await store.ledger.abandon(req.account_id);
        fleet.assign(req.account_id, from, scriptId);
        return;
      } catch { /* fall through to pending */ }
    }
    await store.ledger.commit({ account_id: req.account_id, server_id: null, from_server_id: from, allocation_type: req.allocation_type, load_score: null, strategy: null, reason: `could not be re-placed (${why}); pending` }, now, { status: 'pending' });
  }

  /** DELETE /accounts/{id}: fence and collect, then remove the account (`release`). */
  async release(accountId: string): Promise<{ account_id: string; released_from: string | null; session_sha256: string | null }> {
    return this.o.locks.with(accountId, async () => {
      const { store, fleet } = this.o;
      const acc = await store.accounts.get(accountId);
      if (!acc) throw new BerthError('ACCOUNT_NOT_FOUND', `account ${accountId} not found`, { account_id: accountId });
      let digest = acc.session_sha256;
      if (acc.server_id) {
        if (await store.ledger.get(accountId)) {
          throw new BerthError('CONFLICT', `account ${accountId} has an unresolved move; it is retried automatically`, { account_id: accountId });
        }
        await store.ledger.begin({ account_id: accountId, from_server_id: acc.server_id, to_server_id: null, phase: 'fencing', allocation_type: 'release' }, new Date().toISOString());
        fleet.unassign(accountId);
        const unhold = fleet.hold(acc.server_id);
        try {
          digest = (await this.fenceAndStore(acc.server_id, accountId)) ?? digest;
        } catch (e) {
          if (fleet.get(acc.server_id)) fleet.assign(accountId, acc.server_id, acc.script_id);
          await store.ledger.abandon(accountId);
          throw e;
        } finally {
          unhold();
        }
      }
      await store.ledger.commit({ account_id: accountId, server_id: null, from_server_id: acc.server_id, allocation_type: 'release', load_score: null, strategy: null, reason: 'released by the API; session collected into the store' }, new Date().toISOString(), { deleteAccount: true });
      this.o.onMove?.('release', 'ok');
      return { account_id: accountId, released_from: acc.server_id, session_sha256: digest };
    });
  }
}
