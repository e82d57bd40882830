/**
 * End-to-end allocations: POST /allocation/allocate over HTTP to the controller running
 * as its own process (SQLite store, default settings), which uploads over SFTP to 4 real
 * sshd on 127.0.0.2–5, each with its real agent reporting. 2,000 accounts of 28 KiB,
 * 16 requests in flight, measured after 4,000 warm-up allocations (not counted) so the
 * figure is the steady state. Allocations get cheaper over the first few thousand: the
 * JIT, and on this machine the file system, whose file creation costs several times
 * more in the first thousands of files (bench/RESULTS.md has the ramp). The figure the
 * benchmark reported before (the first 2,000 after 400 warm-up) is timed within the
 * warm-up and printed too, for both set-ups.
 *
 * Baseline, in the same run: the same controller code, HTTP path, SQLite store, placement
 * and `SessionTransfer` (`.part` write, fsync, rename), but its placer uploads over a
 * fresh SSH connection per upload (bench/support/baseline-controller.ts), as the old
 * system did. Each set-up gets fresh sshd, a fresh store and fresh agents.
 *
 * Target: ≥ 10 × the baseline's allocations/s. Also reported: p50/p99 latency, and
 * the CPU one pooled allocation costs summed over every process on the machine
 * (controller, sshd, agents, this load generator, the rest) with the rate the cores
 * would allow at that cost if they did nothing else: a ceiling no scheduling can beat.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Api, type AgentProcess } from '../test/helpers/controller-fixture.js';
import { removeDir, tempDir } from '../test/helpers/temp.js';
import { sshNativeCrypto } from '../controller/transfer/ssh-pool.js';
import { CpuAccount, describeCpu, mainThreadSchedule } from './support/cpu-accounting.js';
import { BenchController } from './support/controller-proc.js';
import { LoadClient } from './support/load-client.js';
import { fmt, profileArgs, type Bench, type BenchOptions, type Figure } from './support/figures.js';
import { percentile } from './support/stats.js';
import { liveSessions, startAgents, startWorkers, waitEligible, writeBenchConfig } from './support/workers.js';

const WORKERS = 4;
const CONCURRENCY = 16;
const SESSION_BYTES = 28 * 1024;
/** Allocations made before the measured ones (not counted): the JIT, the pools and the file system warm up. */
const WARMUP = 4_000;
/** The early figure: {@link EARLY_COUNT} allocations timed after the first {@link EARLY_AFTER} of the warm-up. */
const EARLY_AFTER = 400;
const EARLY_COUNT = 2_000;
const BASELINE_MAIN = fileURLToPath(new URL('./support/baseline-controller.js', import.meta.url));

interface Outcome {
  perSecond: number;
  /** Allocations/s of the early figure, null when the warm-up is too short to time it. */
  earlyPerSecond: number | null;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  firstError: string | null;
  onWorkers: number;
  /** Where the CPU went during the run. */
  cpu: string;
  /** CPU time of one allocation summed over every process on the machine, ms. */
  cpuMsPerAllocation: number;
  /** The rate the machine's cores would allow at that cost if they did nothing else, /s. */
  cpuCeiling: number;
  /** Share of the measured run the controller's event loop was busy (1 = saturated). */
  loopBusy: number;
  /**
   * Shares of the measured run the controller's event-loop thread spent on a CPU and
   * runnable but waiting for one (the kernel's schedstat), or null where unreadable.
   */
  loopThread: { onCpu: number; waiting: number } | null;
}

/** Runs `fn` for every id, {@link CONCURRENCY} at a time. */
async function inFlight(ids: readonly string[], fn: (id: string) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < ids.length) await fn(ids[next++]!);
  }));
}

/** The controller's event-loop busy time so far, seconds (from its /metrics). */
async function loopBusySeconds(api: Api): Promise<number> {
  const r = await api.get('/metrics');
  const m = /^berth_controller_event_loop_busy_seconds_total (\S+)$/m.exec(r.text);
  if (r.status !== 200 || !m) throw new Error(`GET /metrics: ${r.status}, no event-loop figure`);
  return Number(m[1]);
}

async function runSetup(label: string, accounts: number, warmup: number, baseline: boolean, options: BenchOptions): Promise<Outcome> {
  const dir = tempDir(`berth-bench-alloc-${label}-`);
  const workers = await startWorkers(WORKERS);
  const configFile = writeBenchConfig(dir, workers, accounts + warmup);
  const incoming = join(dir, 'sessions', 'incoming');
  mkdirSync(incoming, { recursive: true });
  const ids = Array.from({ length: accounts }, (_, i) => `${label}${String(i).padStart(6, '0')}`);
  const warmIds = Array.from({ length: warmup }, (_, i) => `${label}w${String(i).padStart(6, '0')}`);
  for (const id of [...warmIds, ...ids]) writeFileSync(join(incoming, `${id}.session`), randomBytes(SESSION_BYTES));
  const controller = new BenchController({ configFile, cwd: dir, nodeArgs: profileArgs(options.profileDir), ...(baseline ? { script: BASELINE_MAIN } : {}) });
  const agents: AgentProcess[] = [];
  let client: LoadClient | undefined;
  try {
    await controller.ready();
    agents.push(...(await startAgents(controller.port, workers, dir)));
    const api = Api.for(controller.port);
    await waitEligible(api, WORKERS);
    const load = new LoadClient(controller.port, CONCURRENCY);
    client = load;
    const allocate = (id: string) => load.call('POST', '/allocation/allocate', { account_id: id, session_file: `incoming/${id}.session`, script_id: 'bench' });
    const warm = async (id: string): Promise<void> => {
      const r = await allocate(id);
      if (r.status !== 201) throw new Error(`warm-up allocation failed: ${r.status} ${r.text.slice(0, 200)}`);
    };
    // Three stretches; the middle one is timed when the warm-up is long enough to hold it.
    await inFlight(warmIds.slice(0, EARLY_AFTER), warm);
    const early = warmIds.slice(EARLY_AFTER, EARLY_AFTER + EARLY_COUNT);
    const e0 = performance.now();
    await inFlight(early, warm);
    const earlyPerSecond = early.length === EARLY_COUNT ? EARLY_COUNT / ((performance.now() - e0) / 1000) : null;
    await inFlight(warmIds.slice(EARLY_AFTER + EARLY_COUNT), warm);
    const latencies: number[] = [];
    let failed = 0;
    let firstError: string | null = null;
    const cpu = new CpuAccount(() => ({
      controller: [controller.pid], sshd: workers.flatMap((w) => w.processIds()), agents: agents.map((a) => a.proc.pid!),
    }));
    const busy0 = await loopBusySeconds(api);
    const sched0 = mainThreadSchedule(controller.pid);
    cpu.start();
    const t0 = performance.now();
    await inFlight(ids, async (id) => {
      const s = performance.now();
      const r = await allocate(id);
      latencies.push(performance.now() - s);
      if (r.status !== 201) {
        failed++;
        firstError ??= `${r.status} ${r.text.slice(0, 200)}`;
      }
    });
    const seconds = (performance.now() - t0) / 1000;
    const used = cpu.stop();
    const sched1 = mainThreadSchedule(controller.pid);
    const loopBusy = (await loopBusySeconds(api) - busy0) / seconds;
    const loopThread = sched0 && sched1
      ? { onCpu: (sched1.runNs - sched0.runNs) / 1e9 / seconds, waiting: (sched1.waitNs - sched0.waitNs) / 1e9 / seconds }
      : null;
    const onWorkers = workers.reduce((n, w) => n + liveSessions(w).length, 0) - warmIds.length;
    const cpuMsPerAllocation = (1000 * Object.values(used.byGroup).reduce((a, b) => a + b, 0)) / ids.length;
    const out: Outcome = {
      perSecond: (ids.length - failed) / seconds, earlyPerSecond, p50: percentile(latencies, 50), p99: percentile(latencies, 99),
      ok: ids.length - failed, failed, firstError, onWorkers, cpu: describeCpu(used, { count: ids.length, unit: 'allocation' }),
      cpuMsPerAllocation, cpuCeiling: (1000 * availableParallelism()) / cpuMsPerAllocation, loopBusy, loopThread,
    };
    options.log(`allocations ${baseline ? 'baseline (fresh SSH connection per upload)' : 'pooled'}: ${fmt(out.perSecond, 1)}/s${earlyPerSecond !== null ? ` (early, allocations ${EARLY_AFTER + 1}–${EARLY_AFTER + EARLY_COUNT} of the warm-up: ${fmt(earlyPerSecond, 1)}/s)` : ''}, p50 ${fmt(out.p50, 1)} ms, p99 ${fmt(out.p99, 1)} ms, ${out.ok} ok, ${failed} failed, ${onWorkers} session files on the workers${firstError ? `; first error ${firstError}` : ''}`);
    options.log(`  CPU: ${out.cpu}; the controller's event loop busy ${fmt(100 * loopBusy, 0)} % of the run${loopThread
      ? `, its thread on a CPU ${fmt(100 * loopThread.onCpu, 0)} % and runnable but waiting for one ${fmt(100 * loopThread.waiting, 0)} %` : ''}`);
    return out;
  } finally {
    client?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await controller.stop();
    await Promise.all(workers.map((w) => w.dispose()));
    removeDir(dir);
  }
}

async function run(options: BenchOptions): Promise<Figure[]> {
  const accounts = options.quick ? 400 : 2_000;
  const warmup = options.quick ? 100 : WARMUP;
  options.log(`allocations: ssh2 ciphers ${sshNativeCrypto() ? 'in its native binding' : 'through node:crypto (its native binding is not built)'}`);
  const pooled = await runSetup('p', accounts, warmup, false, options);
  const base = await runSetup('b', accounts, warmup, true, options);
  const ratio = pooled.perSecond / base.perSecond;
  const n = fmt(accounts);
  return [
    {
      bench: 'allocations', name: `${n} × 28 KiB, 16 in flight, after ${fmt(warmup)} warm-up: allocations/s (pooled SSH)`, measured: fmt(pooled.perSecond, 1),
      target: '≥ 10 × baseline', ratio: `${fmt(ratio, 2)}× baseline`, pass: ratio >= 10 && pooled.failed === 0 && pooled.onWorkers === accounts,
    },
    ...(pooled.earlyPerSecond !== null && base.earlyPerSecond !== null ? [{
      bench: 'allocations', name: `early: allocations ${fmt(EARLY_AFTER + 1)}–${fmt(EARLY_AFTER + EARLY_COUNT)} of the warm-up, pooled; baseline (allocations/s)`,
      measured: `${fmt(pooled.earlyPerSecond, 1)}; ${fmt(base.earlyPerSecond, 1)}`, target: '—',
      ratio: `${fmt(pooled.earlyPerSecond / base.earlyPerSecond, 2)}× baseline`, pass: null,
    }] : []),
    { bench: 'allocations', name: 'pooled: p50 / p99 latency', measured: `${fmt(pooled.p50, 1)} / ${fmt(pooled.p99, 1)} ms`, target: '—', pass: null },
    { bench: 'allocations', name: 'pooled: failed requests; session files on workers', measured: `${pooled.failed}; ${fmt(pooled.onWorkers)}`, target: `0; ${n}`, pass: pooled.failed === 0 && pooled.onWorkers === accounts },
    {
      bench: 'allocations', name: `pooled: CPU per allocation, all processes; the rate ${availableParallelism()} cores allow at that cost`,
      measured: `${fmt(pooled.cpuMsPerAllocation, 2)} ms; ${fmt(pooled.cpuCeiling, 0)}/s`, target: '—',
      ratio: `${fmt(pooled.cpuCeiling / base.perSecond, 2)}× baseline`, pass: null,
    },
    { bench: 'allocations', name: 'pooled: controller event loop busy (share of the run)', measured: `${fmt(100 * pooled.loopBusy, 0)} %`, target: '—', pass: null },
    ...(pooled.loopThread ? [{
      bench: 'allocations', name: 'pooled: event-loop thread on a CPU; runnable, waiting for a CPU (share of the run)',
      measured: `${fmt(100 * pooled.loopThread.onCpu, 0)} %; ${fmt(100 * pooled.loopThread.waiting, 0)} %`, target: '—', pass: null,
    }, {
      // An estimate, not a measurement: what the event loop's own CPU time per allocation
      // would allow if its thread never waited for a CPU (a controller on cores of its own).
      bench: 'allocations', name: 'pooled: event-loop thread CPU per allocation; the rate a core of its own would allow (estimate)',
      measured: `${fmt((1000 * pooled.loopThread.onCpu) / pooled.perSecond, 2)} ms; ${fmt(pooled.perSecond / pooled.loopThread.onCpu, 0)}/s`, target: '—',
      ratio: `${fmt(pooled.perSecond / pooled.loopThread.onCpu / base.perSecond, 2)}× baseline`, pass: null,
    }] : []),
    { bench: 'allocations', name: 'baseline (fresh SSH connection per upload): allocations/s', measured: fmt(base.perSecond, 1), target: '—', pass: null },
    { bench: 'allocations', name: 'baseline: p50 / p99 latency', measured: `${fmt(base.p50, 1)} / ${fmt(base.p99, 1)} ms`, target: '—', pass: null },
  ];
}

/** The end-to-end allocation benchmark. */
export const allocationsBench: Bench = { name: 'allocations', about: 'POST /allocation/allocate end to end vs a fresh-SSH-connection baseline', run };
