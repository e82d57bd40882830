/**
 * Rebalance planning: `planRebalance` on 1,000 servers holding 100,000 accounts with a
 * skewed load (a tenth of the servers hot, three tenths warm, the rest cool), threshold
 * 30, no migration cap, no cooldown, so the plan must bring the spread under the
 * threshold on its own.
 *
 * The lower bound on moves: in any final state every score lies in [m, m + T] for some
 * m. A move out of server i lowers its score by exactly its per-account share
 * δ_i = (w_cpu·cpu_i + w_mem·mem_i) / accounts_i + w_acc·100 / max_i (the share stays
 * the same as accounts leave), so a server above m + T needs at least
 * ⌈(s_i − m − T) / δ_i⌉ moves out; a server below m needs ⌈(m − s_j) / ρ_j⌉ moves in,
 * where ρ_j bounds what one incoming account can add (the largest share in the fleet).
 * Every move is one out and one in, so moves ≥ max(Σ out, Σ in) for that m, and the
 * bound is the minimum over m (on a 0.01-point grid, taking each cell's worst end, so
 * the grid cannot overstate it). It assumes no server both sends and receives, as the
 * planner's moves (highest to lowest) do.
 *
 * Targets: plan ≤ 250 ms; moves ≤ 1.1 × the lower bound; final spread ≤ threshold.
 */
import { planRebalance, type RebalanceServer } from '../controller/placement/rebalance-plan.js';
import { DEFAULT_WEIGHTS, scoreOf } from '../controller/placement/scorers/load-score.js';
import { fleetServerId, seededRandom, serverView } from '../test/helpers/placement-builders.js';
import { fmt, type Bench, type BenchOptions, type Figure } from './support/figures.js';
import { percentile } from './support/stats.js';

const SERVERS = 1_000;
const ACCOUNTS = 100_000;
const MAX_ACCOUNTS = 250;
const THRESHOLD = 30;

/** 1,000 servers and 100,000 accounts with a skewed load; reproducible. */
export function skewedFleet(): RebalanceServer[] {
  const random = seededRandom(42);
  const weight: number[] = [];
  const heat: number[] = [];
  for (let i = 0; i < SERVERS; i++) {
    const r = random();
    const h = r < 0.1 ? 0.75 + 0.2 * random() : r < 0.4 ? 0.35 + 0.2 * random() : 0.1 + 0.15 * random();
    heat.push(h);
    weight.push(h);
  }
  const total = weight.reduce((a, b) => a + b, 0);
  const counts = weight.map((w) => Math.min(MAX_ACCOUNTS, Math.floor((w / total) * ACCOUNTS)));
  for (let i = 0, left = ACCOUNTS - counts.reduce((a, b) => a + b, 0); left > 0; i = (i + 1) % SERVERS) {
    if (counts[i]! < MAX_ACCOUNTS) { counts[i]! += 1; left--; }
  }
  let next = 0;
  return counts.map((count, i) => {
    const accounts = Array.from({ length: count }, () => ({ account_id: `acc-${String(next++).padStart(6, '0')}`, script_id: null, last_moved_at: null }));
    const h = heat[i]!;
    return {
      server: serverView(fleetServerId(i), {
        max_accounts: MAX_ACCOUNTS, accounts: count,
        cpu_percent: Math.min(99, h * 100 + 5 * random()), memory_percent: Math.min(99, h * 90 + 10 * random()),
        disk_percent: 20 + 30 * random(),
      }),
      accounts,
    };
  });
}

/** The lower bound on moves described at the top of this file. */
export function movesLowerBound(fleet: readonly RebalanceServer[], threshold: number): number {
  const w = DEFAULT_WEIGHTS;
  const s = fleet.map(({ server: v }) => scoreOf(v.cpu_percent, v.memory_percent, v.accounts, v.max_accounts, v.disk_percent, w));
  const delta = fleet.map(({ server: v }) => (v.accounts > 0 ? (w.cpu * v.cpu_percent + w.memory * v.memory_percent) / v.accounts : 0) + (w.accounts * 100) / v.max_accounts);
  const share = Math.max(...fleet.map(({ server: v }) => (v.accounts > 0 ? (w.cpu * v.cpu_percent + w.memory * v.memory_percent) / v.accounts : 0)));
  const rho = fleet.map(({ server: v }) => share + (w.accounts * 100) / v.max_accounts);
  const outs = (m: number) => s.reduce((n, si, i) => n + Math.max(0, Math.ceil((si - m - threshold) / delta[i]!)), 0);
  const ins = (m: number) => s.reduce((n, si, i) => n + Math.max(0, Math.ceil((m - si) / rho[i]!)), 0);
  const lo = Math.min(...s);
  const hi = Math.max(...s);
  let best = Number.POSITIVE_INFINITY;
  for (let m = Math.floor(lo * 100) / 100; m <= hi; m += 0.01) {
    // outs falls and ins rises with m: on [m, m + 0.01] both are at least their values at the far ends.
    best = Math.min(best, Math.max(outs(m + 0.01), ins(m)));
  }
  return best;
}

async function run(options: BenchOptions): Promise<Figure[]> {
  const fleet = skewedFleet();
  const opts = { threshold: THRESHOLD, max_migrations: ACCOUNTS, cooldown_ms: 0, now: Date.now() };
  const runs = options.quick ? 3 : 7;
  const times: number[] = [];
  let plan = planRebalance(fleet, DEFAULT_WEIGHTS, opts);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    plan = planRebalance(fleet, DEFAULT_WEIGHTS, opts);
    times.push(performance.now() - t0);
  }
  const bound = movesLowerBound(fleet, THRESHOLD);
  const worst = Math.max(...times);
  options.log(`rebalance: plan ${fmt(percentile(times, 50), 1)} ms median, ${fmt(worst, 1)} ms worst of ${runs}; ${fmt(plan.moves.length)} moves, lower bound ${fmt(bound)}; spread ${plan.before.spread} → ${plan.after.spread}`);
  return [
    { bench: 'rebalance', name: 'plan time, 1k servers / 100k accounts (worst of runs)', measured: `${fmt(worst, 1)} ms`, target: '≤ 250 ms', pass: worst <= 250 },
    {
      bench: 'rebalance', name: 'moves planned vs lower bound', measured: `${fmt(plan.moves.length)} (bound ${fmt(bound)})`,
      target: '≤ 1.1 × bound', ratio: `${fmt(plan.moves.length / bound, 3)}×`, pass: plan.moves.length <= 1.1 * bound,
    },
    {
      bench: 'rebalance', name: 'spread before → after', measured: `${plan.before.spread} → ${plan.after.spread}`,
      target: `≤ ${THRESHOLD}`, pass: plan.after.spread <= THRESHOLD,
    },
  ];
}

/** The rebalance planning benchmark. */
export const rebalanceBench: Bench = { name: 'rebalance', about: 'planRebalance on 1,000 servers / 100,000 skewed accounts', run };
