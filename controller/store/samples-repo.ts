/** The `server_samples` table: load over time. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from './database.js';

/** Rows per insert statement; the event loop gets a turn between statements. */
const SAMPLE_BATCH = 250;

/** One sample. */
export interface Sample {
  server_id: string;
  at: string;
  load_score: number;
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  accounts: number;
}

/** Writes samples and prunes old ones. */
export class SamplesRepo {
  constructor(private readonly db: Db) {}

  /**
   * Appends samples, {@link SAMPLE_BATCH} rows per statement. SQLite runs on the event
   * loop, so a whole fleet's minute (5,000 rows take tens of milliseconds) would stall
   * agent reports and API answers; between statements the loop gets a turn.
   */
  async insert(samples: Sample[]): Promise<void> {
    for (let i = 0; i < samples.length; i += SAMPLE_BATCH) {
      if (i > 0) await nextTurn();
      await this.db.insertInto('server_samples').values(samples.slice(i, i + SAMPLE_BATCH)).execute();
    }
  }

  /** Deletes samples older than `cutoff`; returns how many. */
  async pruneBefore(cutoff: string): Promise<number> {
    const res = await this.db.deleteFrom('server_samples').where('at', '<', cutoff).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Samples of one server since `since`, oldest first. */
  listFor(serverId: string, since: string): Promise<Sample[]> {
    return this.db.selectFrom('server_samples')
      .select(['server_id', 'at', 'load_score', 'cpu_percent', 'memory_percent', 'disk_percent', 'accounts'])
      .where('server_id', '=', serverId).where('at', '>=', since).orderBy('id').execute();
  }
}
