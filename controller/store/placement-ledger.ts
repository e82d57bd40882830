/**
 * Where accounts live, written atomically: the account's server, its history row and
 * the end of the move journal entry go in one transaction, after the upload is
 * confirmed. The `moves` journal lets a restart finish or roll back a cut-short move.
 */
import type { Db, MoveRow } from './database.js';

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
  constructor(private readonly db: Db) {}

  /** Commits a placement: account row, history row, journal entry removed — all or nothing. */
  async commit(rec: PlacementRecord, now: string, opts: { status?: 'allocated' | 'pending'; deleteAccount?: boolean } = {}): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      if (opts.deleteAccount) {
        await trx.deleteFrom('accounts').where('account_id', '=', rec.account_id).execute();
      } else {
        await trx.updateTable('accounts').set({
          server_id: rec.server_id,
          status: opts.status ?? (rec.server_id ? 'allocated' : 'pending'),
          last_error: null,
          last_moved_at: rec.from_server_id ? now : undefined,
          updated_at: now,
        }).where('account_id', '=', rec.account_id).execute();
      }
      const res = await trx.insertInto('allocation_history').values({ ...rec, created_at: now }).executeTakeFirstOrThrow();
      await trx.deleteFrom('moves').where('account_id', '=', rec.account_id).execute();
      return Number(res.insertId);
    });
  }

  /** Records that a move started (before anything is fenced). */
  async begin(move: Omit<MoveRow, 'created_at'>, now: string): Promise<void> {
    await this.db.insertInto('moves').values({ ...move, created_at: now })
      .onConflict((oc) => oc.column('account_id').doUpdateSet({ ...move, created_at: now })).execute();
  }

  /** Advances a move's phase (and target). */
  async advance(accountId: string, phase: string, toServerId: string | null): Promise<void> {
    await this.db.updateTable('moves').set({ phase, to_server_id: toServerId }).where('account_id', '=', accountId).execute();
  }

  /** Ends a move without a placement change (rolled back). */
  async abandon(accountId: string): Promise<void> {
    await this.db.deleteFrom('moves').where('account_id', '=', accountId).execute();
  }

  /** The unfinished move of an account, if any. */
  get(accountId: string): Promise<MoveRow | undefined> {
    return this.db.selectFrom('moves').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  }

  /** Moves left by a previous run. */
  unfinished(): Promise<MoveRow[]> {
    return this.db.selectFrom('moves').selectAll().execute();
  }
}
