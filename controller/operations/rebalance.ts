/**
 * Rebalance (SPEC §7): plan with the pure planner, then perform each move (fence,
 * collect, place on the planned target). `dry_run` returns the plan untouched.
 */
import type { Logger } from '../../shared/log.js';
import type { Alerts } from '../alerts.js';
import type { ControllerSettings } from '../config.js';
import type { Fleet } from '../fleet/fleet.js';
import { planRebalance } from '../placement/rebalance-plan.js';
import type { Store } from '../store/store.js';
import type { Mover } from './mover.js';
import type { MigrationResult, RebalanceResult } from './types.js';

/** Options of {@link Rebalancer}. */
export interface RebalancerOptions {
  fleet: Fleet;
  store: Store;
  mover: Mover;
  logger: Logger;
  alerts: Alerts;
  settings: () => ControllerSettings;
}

/** Plans and runs rebalances; one at a time. */
export class Rebalancer {
  private running: Promise<RebalanceResult> | null = null;

  constructor(private readonly o: RebalancerOptions) {}

  /** Runs (or, with `dry_run`, only plans) a rebalance. */
  async run(opts: { threshold?: number | undefined; max_migrations?: number | undefined; dry_run?: boolean | undefined }): Promise<RebalanceResult> {
    if (!opts.dry_run && this.running) return this.running;
    const p = this.runOnce(opts);
    if (!opts.dry_run) {
      this.running = p.finally(() => (this.running = null));
    }
    return p;
  }

  private async runOnce(opts: { threshold?: number | undefined; max_migrations?: number | undefined; dry_run?: boolean | undefined }): Promise<RebalanceResult> {
    const c = this.o.settings();
    const threshold = opts.threshold ?? c.rebalance.threshold;
    const maxMigrations = opts.max_migrations ?? c.rebalance.max_migrations;
    const lastMoved = new Map<string, number>();
    for (const row of await this.o.store.accounts.listPlaced()) {
      if (row.last_moved_at) lastMoved.set(row.account_id, Date.parse(row.last_moved_at));
    }
    const plan = planRebalance(
      this.o.fleet.servers.map((s) => ({
        server: s,
        accounts: [...s.assigned].map(([account_id, script_id]) => ({ account_id, script_id, last_moved_at: lastMoved.get(account_id) ?? null })),
      })),
      c.weights,
      { threshold, max_migrations: maxMigrations, cooldown_ms: c.rebalance.cooldown_ms, now: Date.now() },
    );
    const dry = opts.dry_run === true;
    const migrations: MigrationResult[] = [];
    for (const m of plan.moves) {
      if (dry) {
        migrations.push({ account_id: m.account_id, from_server_id: m.from_server_id, to_server_id: m.to_server_id, status: 'planned' });
        continue;
      }
      try {
        const r = await this.o.mover.move({ account_id: m.account_id, allocation_type: 'rebalance', to_server_id: m.to_server_id, context: `rebalance: spread ${plan.before.spread.toFixed(2)} > threshold ${threshold}` });
        migrations.push({ account_id: m.account_id, from_server_id: m.from_server_id, to_server_id: r.server_id, status: 'moved' });
      } catch (e) {
        migrations.push({ account_id: m.account_id, from_server_id: m.from_server_id, to_server_id: m.to_server_id, status: 'failed', error: (e as Error).message });
      }
    }
    if (!dry && migrations.length > 0) {
      const moved = migrations.filter((m) => m.status === 'moved').length;
      this.o.logger.info({ moved, failed: migrations.length - moved, before: plan.before, after: plan.after }, 'rebalance finished');
      this.o.alerts.emit({ event: 'rebalance', severity: 'info', message: `rebalance moved ${moved} of ${migrations.length} planned account(s); spread ${plan.before.spread.toFixed(2)} → ${plan.after.spread.toFixed(2)}` });
    }
    return { dry_run: dry, threshold, before: plan.before, after: plan.after, migrations };
  }
}
