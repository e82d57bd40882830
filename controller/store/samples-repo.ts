/** The `server_samples` table: load over time. */
import type { Db } from './database.js';

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

  /** Appends samples in one statement. */
  async insert(samples: Sample[]): Promise<void> {
    if (samples.length === 0) return;
    for (let i = 0; i < samples.length; i += 500) {
      await this.db.insertInto('server_samples').values(samples.slice(i, i + 500)).execute();
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
