/** The `servers` table: runtime state of configured servers. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db, ServerRow } from './database.js';
import { prepare, type PreparedQuery } from './prepared.js';

/** Servers written per transaction; the event loop gets a turn between transactions. */
const RUNTIME_BATCH = 250;

/** A server's reporting state as the fleet sees it now. */
export interface ServerRuntime {
  server_id: string;
  /** ISO time of its last report, or null when it has not reported since the controller started. */
  last_report_at: string | null;
  consecutive_failures: number;
}

/** Reads and writes server runtime state. */
export class ServersRepo {
  readonly #saveReported: PreparedQuery<[string, string, number, string], unknown>;
  readonly #saveSilent: PreparedQuery<[string, number, string], unknown>;

  constructor(private readonly db: Db) {
    this.#saveReported = prepare(4, (id: string, lastReportAt: string, failures: number, now: string) =>
      db.updateTable('servers').set({ last_report_at: lastReportAt, consecutive_failures: failures, updated_at: now }).where('server_id', '=', id));
    this.#saveSilent = prepare(3, (id: string, failures: number, now: string) =>
      db.updateTable('servers').set({ consecutive_failures: failures, updated_at: now }).where('server_id', '=', id));
  }

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

  /**
   * Records servers' reporting state ({@link RUNTIME_BATCH} per transaction). A server
   * that has not reported since the controller started keeps the time recorded before.
   */
  async saveRuntime(rows: readonly ServerRuntime[], now: string): Promise<void> {
    for (let i = 0; i < rows.length; i += RUNTIME_BATCH) {
      if (i > 0) await nextTurn();
      await this.db.transaction().execute(async (tx) => {
        for (const r of rows.slice(i, i + RUNTIME_BATCH)) {
          if (r.last_report_at === null) await this.#saveSilent(tx, r.server_id, r.consecutive_failures, now);
          else await this.#saveReported(tx, r.server_id, r.last_report_at, r.consecutive_failures, now);
        }
      });
    }
  }

  /** The host key recorded for a server, or null. */
  async getHostKey(id: string): Promise<string | null> {
    const row = await this.db.selectFrom('servers').select('host_key').where('server_id', '=', id).executeTakeFirst();
    return row?.host_key ?? null;
  }
}
