/** The `allocation_history` table: every placement decision, newest first. */
import type { Db, HistoryRow } from './database.js';

/** Filters and page of a history listing. */
export interface HistoryQuery {
  account_id?: string;
  server_id?: string;
  allocation_type?: string;
  limit: number;
  /** Only rows with an id below this one. */
  before?: number;
}

/** Reads allocation history. Rows are written by {@link PlacementLedger}. */
export class HistoryRepo {
  constructor(private readonly db: Db) {}

  /** A page of history rows, newest first. */
  list(q: HistoryQuery): Promise<HistoryRow[]> {
    let query = this.db.selectFrom('allocation_history').selectAll();
    if (q.account_id !== undefined) query = query.where('account_id', '=', q.account_id);
    if (q.server_id !== undefined) {
      const sid = q.server_id;
      query = query.where((eb) => eb.or([eb('server_id', '=', sid), eb('from_server_id', '=', sid)]));
    }
    if (q.allocation_type !== undefined) query = query.where('allocation_type', '=', q.allocation_type);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    return query.orderBy('id', 'desc').limit(q.limit).execute();
  }
}
