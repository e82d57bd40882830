/** The `servers` table: runtime state of configured servers. */
import type { Db, ServerRow } from './database.js';

/** Reads and writes server runtime state. */
export class ServersRepo {
  constructor(private readonly db: Db) {}

  /** Every server row. */
  list(): Promise<ServerRow[]> {
    return this.db.selectFrom('servers').selectAll().execute();
  }

  /** Makes sure a row exists for each id. */
  async ensure(ids: Iterable<string>, now: string): Promise<void> {
    for (const id of ids) {
      await this.db.insertInto('servers')
        .values({ server_id: id, status_override: null, host_key: null, last_report_at: null, consecutive_failures: 0, last_down_at: null, updated_at: now })
        .onConflict((oc) => oc.column('server_id').doNothing()).execute();
    }
  }

  /** Updates some fields of a server. */
  async update(id: string, fields: Partial<Omit<ServerRow, 'server_id'>>, now: string): Promise<void> {
    await this.db.updateTable('servers').set({ ...fields, updated_at: now }).where('server_id', '=', id).execute();
  }

  /** The host key recorded for a server, or null. */
  async getHostKey(id: string): Promise<string | null> {
    const row = await this.db.selectFrom('servers').select('host_key').where('server_id', '=', id).executeTakeFirst();
    return row?.host_key ?? null;
  }
}
