/**
 * The controller's scheduled jobs (node-cron): load samples every minute, sample
 * pruning daily, pending retries every minute, and the optional rebalance schedule.
 * A job never overlaps itself and a failing job is logged, never fatal.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../shared/log.js';

/** One named job. */
export interface JobSpec {
  name: string;
  /** cron expression (node-cron syntax, optional seconds field). */
  schedule: string;
  run: () => Promise<unknown>;
}

/** Runs jobs on their schedules. */
export class JobScheduler {
  private readonly tasks = new Map<string, ScheduledTask>();

  constructor(private readonly logger: Logger) {}

  /** Starts (or replaces) a job. */
  schedule(job: JobSpec): void {
    this.cancel(job.name);
    const task = cron.schedule(job.schedule, async () => {
      try {
        await job.run();
      } catch (e) {
        this.logger.error({ job: job.name, err: e }, 'scheduled job failed');
      }
    }, { name: job.name, noOverlap: true });
    this.tasks.set(job.name, task);
  }

  /** Stops one job. */
  cancel(name: string): void {
    const t = this.tasks.get(name);
    if (t) {
      void t.destroy();
      this.tasks.delete(name);
    }
  }

  /** Names of the jobs scheduled. */
  names(): string[] {
    return [...this.tasks.keys()];
  }

  /** Stops every job. */
  stopAll(): void {
    for (const name of [...this.tasks.keys()]) this.cancel(name);
  }
}
