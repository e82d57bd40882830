/**
 * POST /allocation/allocate and POST /accounts: find the session, make sure the account
 * is not placed already, and place it (or only choose, for a dry run).
 */
import { BerthError, isBerthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Strategy } from '../placement/types.js';
import type { SessionFiles } from '../store/session-files.js';
import type { Store } from '../store/store.js';
import type { AccountLocks } from './account-locks.js';
import type { Placer } from './placer.js';
import type { AllocateRequest, AllocationResult } from './types.js';

/** Options of {@link Allocator}. */
export interface AllocatorOptions {
  store: Store;
  sessions: SessionFiles;
  fleet: Fleet;
  placer: Placer;
  locks: AccountLocks;
  logger: Logger;
  defaultStrategy: () => Strategy;
  onFailure?: (accountId: string, error: BerthError) => void;
}

/** Allocates accounts. */
export class Allocator {
  constructor(private readonly o: AllocatorOptions) {}

  /** Reads the session a request names: `session_file` in the store, else the account's stored copy. */
  async sessionBytes(accountId: string, sessionFile: string | undefined): Promise<Buffer> {
    if (sessionFile !== undefined) {
      const path = await this.o.sessions.resolveRequestPath(sessionFile);
      const owner = this.o.sessions.ownerOf(path);
      if (owner !== null && owner !== accountId && (await this.o.store.accounts.get(owner))) {
        // One session under two accounts would be live twice.
        throw new BerthError('CONFLICT', `session_file is the session of account ${owner}`, { field: 'session_file', account_id: owner });
      }
      return this.o.sessions.readResolved(path);
    }
    const stored = await this.o.sessions.read(accountId);
    if (!stored) throw new BerthError('SESSION_FILE_NOT_FOUND', `no session stored for account ${accountId}; give session_file or upload it first`, { account_id: accountId });
    return stored;
  }

  /** SPEC §5 POST /allocation/allocate. */
  async allocate(req: AllocateRequest): Promise<AllocationResult> {
    const { store, fleet, placer, locks } = this.o;
    if (req.server_id !== undefined && !fleet.get(req.server_id)) {
      throw new BerthError('SERVER_NOT_FOUND', `server ${req.server_id} is not configured`, { server_id: req.server_id });
    }
    return locks.with(req.account_id, async () => {
      const existing = await store.accounts.get(req.account_id);
      if (existing?.server_id) {
        throw new BerthError('ALREADY_ALLOCATED', `account ${req.account_id} is already on server ${existing.server_id}`, { account_id: req.account_id, server_id: existing.server_id });
      }
      await this.refuseUnresolved(req.account_id);
      const bytes = await this.sessionBytes(req.account_id, req.session_file);
      const strategy = req.strategy ?? this.o.defaultStrategy();
      const job = {
        account_id: req.account_id, script_id: req.script_id ?? existing?.script_id ?? null, bytes, strategy,
        location: req.location ?? null, strict: req.strict ?? false, server_id: req.server_id,
        allocation_type: req.server_id !== undefined ? 'manual' : 'initial', from_server_id: null,
        explain: req.explain ?? false,
      };
      if (req.dry_run) {
        const choice = placer.choose(job);
        return {
          account_id: req.account_id, server_id: choice.server_id, allocation_type: job.allocation_type, strategy,
          load_score: choice.load_score, reason: choice.reason,
          remote_path: `${fleet.get(choice.server_id)!.config.sessions_dir}/${req.account_id}.session`,
          duration_ms: 0, dry_run: true, ...(choice.candidates ? { candidates: choice.candidates } : {}),
        };
      }
      const now = new Date().toISOString();
      const digest = await this.o.sessions.write(req.account_id, bytes);
      const created = !existing && await store.accounts.insert({
        account_id: req.account_id, script_id: job.script_id, server_id: null, status: 'pending',
        session_sha256: digest, strategy, location: job.location,
      }, now);
      if (!created) await store.accounts.setSessionDigest(req.account_id, digest, now);
      try {
        return await placer.placeAndCommit(job);
      } catch (e) {
        // An upload that may have landed keeps the account (pending) and its journal row,
        // so recovery can fence or adopt that copy before anything else is placed.
        const maybeLive = isBerthError(e) && e.details?.maybe_live === true;
        if (created && !maybeLive) await store.db.deleteFrom('accounts').where('account_id', '=', req.account_id).where('server_id', 'is', null).execute();
        else await store.accounts.setStatus(req.account_id, 'pending', (e as Error).message, new Date().toISOString());
        if (e instanceof BerthError) this.o.onFailure?.(req.account_id, e);
        throw e;
      }
    });
  }

  /** Refuses to place an account whose earlier placement or move is not settled. */
  private async refuseUnresolved(accountId: string): Promise<void> {
    if (await this.o.store.ledger.get(accountId)) {
      throw new BerthError('CONFLICT', `an earlier placement of account ${accountId} is unresolved (a copy may be live); it is settled automatically`, { account_id: accountId });
    }
  }

  /**
   * Places a pending account from the controller's copy (retry job). Returns the result,
   * or the error when it stays pending.
   */
  async placePending(accountId: string): Promise<AllocationResult | BerthError> {
    return this.o.locks.with(accountId, () => this.placePendingLocked(accountId));
  }

  /**
   * {@link placePending} for a caller that already holds the account's lock (POST
   * /accounts creates and places under one lock, so the retry job cannot step in between).
   */
  async placePendingLocked(accountId: string): Promise<AllocationResult | BerthError> {
    const { store, placer } = this.o;
    const acc = await store.accounts.get(accountId);
    if (!acc || acc.server_id || acc.status !== 'pending') return new BerthError('CONFLICT', 'account is not pending');
    if (await store.ledger.get(accountId)) return new BerthError('CONFLICT', 'an earlier placement of this account is unresolved; recovery settles it first');
    const bytes = await this.o.sessions.read(accountId);
    if (!bytes) {
      // Waiting for its session (PUT /accounts/{id}/session): not a failed allocation.
      return new BerthError('SESSION_FILE_NOT_FOUND', 'no session yet: PUT /accounts/{id}/session to upload it', { account_id: accountId });
    }
    try {
      return await placer.placeAndCommit({
        account_id: accountId, script_id: acc.script_id, bytes, strategy: (acc.strategy as Strategy | null) ?? this.o.defaultStrategy(),
        location: acc.location, strict: false, allocation_type: 'initial', from_server_id: null, explain: false,
      });
    } catch (e) {
      const err = e instanceof BerthError ? e : new BerthError('UPLOAD_FAILED', (e as Error).message);
      await store.accounts.setStatus(accountId, 'pending', err.message, new Date().toISOString());
      this.o.onFailure?.(accountId, err);
      return err;
    }
  }
}
