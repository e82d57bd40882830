/**
 * Load history: each reporting server's load goes into `server_samples` at most once a
 * minute; samples older than the retention are pruned.
 */
import type { Fleet } from './fleet.js';
import { loadScore } from '../placement/scorers/load-score.js';
import type { Weights } from '../placement/types.js';
import type { SamplesRepo } from '../store/samples-repo.js';

/** How long samples are kept. */
export const SAMPLE_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Samples fleet load. */
export class LoadSampler {
  private readonly lastAt = new Map<string, number>();

  constructor(private readonly o: { fleet: Fleet; samples: SamplesRepo; weights: () => Weights }) {}

  /** Writes one sample per server that reported since its last sample, at most one a minute. */
  async sample(now = Date.now()): Promise<number> {
    const rows = [];
    for (const s of this.o.fleet.servers) {
      if (s.last_report_at === null) continue;
      const last = this.lastAt.get(s.server_id) ?? 0;
      if (now - last < 60_000 || s.last_report_at <= last) continue;
      this.lastAt.set(s.server_id, now);
      rows.push({
        server_id: s.server_id, at: new Date(now).toISOString(), load_score: loadScore(s, this.o.weights()),
        cpu_percent: s.cpu_percent, memory_percent: s.memory_percent, disk_percent: s.disk_percent, accounts: s.accounts,
      });
    }
    await this.o.samples.insert(rows);
    return rows.length;
  }

  /** Deletes samples older than the retention. */
  prune(now = Date.now()): Promise<number> {
    return this.o.samples.pruneBefore(new Date(now - SAMPLE_RETENTION_MS).toISOString());
  }
}
