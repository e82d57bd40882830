/**
 * Where accounts live, written atomically: the account's server, its history row and
 * the end of the move journal entry go in one transaction, after the upload is
 * confirmed. The `moves` journal lets a restart finish or roll back a cut-short move.
 */
import type { Db, MoveRow } from './database.js';
import { prepare } from './prepared.js';

/** One placement change to record. */
export interface PlacementRecord {
  account_id: string;
  /** New server, or null when the account was released or left unplaced. */
  server_id: string | null;
  from_server_id: string | null;
  allocation_type: string;
  load_score: number | null;
  strategy: string | null;
  reason: string;
}

/** Writes placements and the move journal. */
export class PlacementLedger {
  readonly #place;
  readonly #placeMoved;
  readonly #history;
  readonly #end;
  readonly #begin;
  readonly #get;

  constructor(private readonly db: Db) {
    type Status = 'allocated' | 'pending';
    this.#place = prepare(4, (id: string, server: string | null, status: Status, now: string) =>
      db.updateTable('accounts').set({ server_id: server, status, last_error: null, updated_at: now }).where('account_id', '=', id));
    this.#placeMoved = prepare(4, (id: string, server: string | null, status: Status, now: string) =>
      db.updateTable('accounts').set({ server_id: server, status, last_error: null, last_moved_at: now, updated_at: now }).where('account_id', '=', id));
    this.#history = prepare(8, (id: string, server: string | null, from: string | null, type: string, score: number | null, strategy: string | null, reason: string, now: string) =>
      db.insertInto('allocation_history').values({
        account_id: id, server_id: server, from_server_id: from, allocation_type: type, load_score: score, strategy, reason, created_at: now,
      }));
    this.#end = prepare(1, (id: string) => db.deleteFrom('moves').where('account_id', '=', id));
    this.#begin = prepare(6, (id: string, from: string | null, to: string | null, phase: string, type: string, now: string) =>
      db.insertInto('moves').values({ account_id: id, from_server_id: from, to_server_id: to, phase, allocation_type: type, created_at: now })
        .onConflict((oc) => oc.column('account_id').doUpdateSet({ from_server_id: from, to_server_id: to, phase, allocation_type: type, created_at: now })));
    this.#get = prepare(1, (id: string) => db.selectFrom('moves').selectAll().where('account_id', '=', id));
  }

  /** Commits a placement: account row, history row, journal entry removed — all or nothing. */
  async commit(rec: PlacementRecord, now: string, opts: { status?: 'allocated' | 'pending'; deleteAccount?: boolean } = {}): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      if (opts.deleteAccount) {
        await trx.deleteFrom('accounts').where('account_id', '=', rec.account_id).execute();
      } else {
        const status = opts.status ?? (rec.server_id ? 'allocated' : 'pending');
        await (rec.from_server_id ? this.#placeMoved : this.#place)(trx, rec.account_id, rec.server_id, status, now);
      }
      const res = await this.#history(trx, rec.account_id, rec.server_id, rec.from_server_id, rec.allocation_type, rec.load_score, rec.strategy, rec.reason, now);
      await this.#end(trx, rec.account_id);
      return Number(res.insertId);
    });
  }

  /** Records that a move started (before anything is fenced). */
  async begin(move: Omit<MoveRow, 'created_at'>, now: string): Promise<void> {
    await this.#begin(this.db, move.account_id, move.from_server_id, move.to_server_id, move.phase, move.allocation_type, now);
  }

  /** Advances a move's phase (and target). */
  async advance(accountId: string, phase: string, toServerId: string | null): Promise<void> {
    await this.db.updateTable('moves').set({ phase, to_server_id: toServerId }).where('account_id', '=', accountId).execute();
  }

  /** Ends a move without a placement change (rolled back). */
  async abandon(accountId: string): Promise<void> {
    await this.#end(this.db, accountId);
  }

  /** The unfinished move of an account, if any. */
  async get(accountId: string): Promise<MoveRow | undefined> {
    return (await this.#get(this.db, accountId)).rows[0];
  }

  /** Moves left by a previous run. */
  unfinished(): Promise<MoveRow[]> {
    return this.db.selectFrom('moves').selectAll().execute();
  }
}
