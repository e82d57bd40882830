/** The `accounts` table. */
import type { AccountRow, AccountStatus, Db } from './database.js';
import { prepare } from './prepared.js';

/** Filters and page of an account listing. */
export interface AccountQuery {
  server_id?: string;
  script_id?: string;
  status?: AccountStatus;
  limit: number;
  /** Account id after which the page starts. */
  after?: string;
}

/** Reads and writes accounts. */
export class AccountsRepo {
  readonly #get;
  readonly #insert;
  readonly #setStatus;
  readonly #setDigest;

  constructor(private readonly db: Db) {
    this.#get = prepare(1, (id: string) => db.selectFrom('accounts').selectAll().where('account_id', '=', id));
    this.#insert = prepare(8, (id: string, script: string | null, server: string | null, status: AccountStatus, digest: string | null, strategy: string | null, location: string | null, now: string) =>
      db.insertInto('accounts').values({
        account_id: id, script_id: script, server_id: server, status, session_sha256: digest, strategy, location,
        last_error: null, last_moved_at: null, created_at: now, updated_at: now,
      }).onConflict((oc) => oc.column('account_id').doNothing()));
    this.#setStatus = prepare(4, (id: string, status: AccountStatus, lastError: string | null, now: string) =>
      db.updateTable('accounts').set({ status, last_error: lastError, updated_at: now }).where('account_id', '=', id));
    this.#setDigest = prepare(3, (id: string, digest: string, now: string) =>
      db.updateTable('accounts').set({ session_sha256: digest, updated_at: now }).where('account_id', '=', id));
  }

  /** One account, or undefined. */
  async get(accountId: string): Promise<AccountRow | undefined> {
    return (await this.#get(this.db, accountId)).rows[0];
  }

  /** A page of accounts ordered by id. */
  list(q: AccountQuery): Promise<AccountRow[]> {
    let query = this.db.selectFrom('accounts').selectAll();
    if (q.server_id !== undefined) query = query.where('server_id', '=', q.server_id);
    if (q.script_id !== undefined) query = query.where('script_id', '=', q.script_id);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.after !== undefined) query = query.where('account_id', '>', q.after);
    return query.orderBy('account_id').limit(q.limit).execute();
  }

  /** Every account that has a server (for building the live fleet view). */
  listPlaced(): Promise<Pick<AccountRow, 'account_id' | 'server_id' | 'script_id' | 'last_moved_at'>[]> {
    return this.db.selectFrom('accounts').select(['account_id', 'server_id', 'script_id', 'last_moved_at'])
      .where('server_id', 'is not', null).execute();
  }

  /** Account ids waiting for a server. */
  async listPending(limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('accounts').select('account_id').where('status', '=', 'pending')
      .orderBy('updated_at').limit(limit).execute();
    return rows.map((r) => r.account_id);
  }

  /** Inserts a new account; false when the id exists. */
  async insert(row: Omit<AccountRow, 'created_at' | 'updated_at' | 'last_moved_at' | 'last_error'>, now: string): Promise<boolean> {
    const res = await this.#insert(this.db, row.account_id, row.script_id, row.server_id, row.status, row.session_sha256, row.strategy, row.location, now);
    return Number(res.numAffectedRows ?? 0n) === 1;
  }

  /** Updates the status (and last error) of an account. */
  async setStatus(accountId: string, status: AccountStatus, lastError: string | null, now: string): Promise<void> {
    await this.#setStatus(this.db, accountId, status, lastError, now);
  }

  /** Records the digest of the controller's copy of the session. */
  async setSessionDigest(accountId: string, sha256: string, now: string): Promise<void> {
    await this.#setDigest(this.db, accountId, sha256, now);
  }

  /** Counts accounts by status. */
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('accounts').select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status').execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
