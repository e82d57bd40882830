/**
 * The accounts resource: create (store the session, then place it within
 * `upload_timeout_ms` or keep it pending), list, read, and replace the stored copy.
 */
import { BerthError } from '../../shared/errors.js';
import type { AccountRow, AccountStatus } from '../store/database.js';
import type { SessionFiles } from '../store/session-files.js';
import type { Store } from '../store/store.js';
import type { Strategy } from '../placement/types.js';
import type { AccountLocks } from './account-locks.js';
import type { Allocator } from './allocate.js';
import type { AllocationResult } from './types.js';

/** An account as the API shows it. */
export interface AccountJson {
  account_id: string;
  script_id: string | null;
  server_id: string | null;
  status: string;
  session_sha256: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** Fields of POST /accounts. */
export interface CreateAccountRequest {
  account_id: string;
  script_id?: string | null | undefined;
  session_file?: string | undefined;
  session_bytes?: Buffer | undefined;
  strategy?: Strategy | undefined;
  location?: string | null | undefined;
}

/** Shapes an account row for the API. */
export function accountJson(a: AccountRow): AccountJson {
  return {
    account_id: a.account_id, script_id: a.script_id, server_id: a.server_id, status: a.status,
    session_sha256: a.session_sha256, last_error: a.last_error, created_at: a.created_at, updated_at: a.updated_at,
  };
}

/** Options of {@link AccountService}. */
export interface AccountServiceOptions {
  store: Store;
  sessions: SessionFiles;
  allocator: Allocator;
  locks: AccountLocks;
  settings: () => { upload_timeout_ms: number };
}

/** The accounts resource. */
export class AccountService {
  constructor(private readonly o: AccountServiceOptions) {}

  /** One account or ACCOUNT_NOT_FOUND. */
  async get(accountId: string): Promise<AccountJson> {
    const a = await this.o.store.accounts.get(accountId);
    if (!a) throw new BerthError('ACCOUNT_NOT_FOUND', `account ${accountId} not found`, { account_id: accountId });
    return accountJson(a);
  }

  /** A page of accounts and the cursor of the next one. */
  async list(q: { server_id?: string | undefined; script_id?: string | undefined; status?: AccountStatus | undefined; limit: number; after?: string | undefined }): Promise<{ items: AccountJson[]; next: string | null }> {
    const rows = await this.o.store.accounts.list({ ...stripUndefined(q), limit: q.limit + 1 });
    const items = rows.slice(0, q.limit).map(accountJson);
    return { items, next: rows.length > q.limit ? items[items.length - 1]!.account_id : null };
  }

  /**
   * Creates an account and tries to place it. `placed` false means it is pending (the
   * retry job will place it) and `error` says why.
   */
  async create(req: CreateAccountRequest): Promise<{ account: AccountJson; allocation?: AllocationResult; error?: BerthError }> {
    const { store, sessions, allocator, locks } = this.o;
    const bytes = req.session_bytes ?? (req.session_file !== undefined ? await allocator.sessionBytes(req.account_id, req.session_file) : undefined);
    // Create and place under one lock: the retry job cannot take the account in between.
    const placing = locks.with(req.account_id, async (): Promise<AllocationResult | BerthError> => {
      const now = new Date().toISOString();
      const inserted = await store.accounts.insert({
        account_id: req.account_id, script_id: req.script_id ?? null, server_id: null, status: 'pending',
        session_sha256: null, strategy: req.strategy ?? null, location: req.location ?? null,
      }, now);
      if (!inserted) throw new BerthError('CONFLICT', `account ${req.account_id} already exists`, { account_id: req.account_id });
      if (bytes) await store.accounts.setSessionDigest(req.account_id, await sessions.write(req.account_id, bytes), now);
      const outcome = await allocator.placePendingLocked(req.account_id);
      if (outcome instanceof BerthError && outcome.code === 'SESSION_FILE_NOT_FOUND') {
        await store.accounts.setStatus(req.account_id, 'pending', outcome.message, new Date().toISOString());
      }
      return outcome;
    });
    // The placement goes on after a late answer; its outcome is in the account row.
    placing.catch(() => undefined);
    const timeout = this.o.settings().upload_timeout_ms;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      placing,
      new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), timeout); }),
    ]).finally(() => clearTimeout(timer));
    if (outcome === 'late') {
      return { account: await this.get(req.account_id), error: new BerthError('TIMEOUT', `not placed within ${timeout} ms; the placement goes on in the background`) };
    }
    if (outcome instanceof BerthError) return { account: await this.get(req.account_id), error: outcome };
    return { account: await this.get(req.account_id), allocation: outcome };
  }

  /** PUT /accounts/{id}/session: replaces the controller's copy (the worker's copy is not touched). */
  async putSession(accountId: string, bytes: Buffer): Promise<AccountJson> {
    return this.o.locks.with(accountId, async () => {
      const acc = await this.o.store.accounts.get(accountId);
      if (!acc) throw new BerthError('ACCOUNT_NOT_FOUND', `account ${accountId} not found`, { account_id: accountId });
      const digest = await this.o.sessions.write(accountId, bytes);
      await this.o.store.accounts.setSessionDigest(accountId, digest, new Date().toISOString());
      return this.get(accountId);
    });
  }
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
