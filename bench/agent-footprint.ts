/**
 * Agent footprint: the real agent as released (the bundle of deploy/bundle-agent.ts, run
 * with the launcher's node flags and environment, agent/node-flags.ts) on a worker holding 50
 * placed accounts, connected to the real controller at the default report interval
 * (5 s), watched from outside for 60 s (20 s with `--quick`) after it settled:
 * CPU time from /proc/<pid>/stat, RSS from /proc/<pid>/status.
 *
 * Targets: ≤ 50 MB RSS and ≤ 0.5 % of one core. Also printed: the agent's RSS split into
 * anonymous (its own) and file-backed pages (mostly the node binary, shared by every
 * node process), beside the same figures for an idle bare `node` process, the floor
 * any Node program starts from on this machine.
 */
import { sleep } from '../test/helpers/wait.js';
import { fmt, type Bench, type BenchOptions, type Figure } from './support/figures.js';
import { startPlacedFleet } from './support/placed-fleet.js';
import { bareNodeRss, mb, peakRssBytes, rssParts, watchProcess } from './support/stats.js';

async function run(options: BenchOptions): Promise<Figure[]> {
  const fleet = await startPlacedFleet({ workers: 1, accounts: 50 });
  try {
    const pid = fleet.agents[0]!.proc.pid!;
    await sleep(6000);
    const seconds = options.quick ? 20 : 60;
    const w = await watchProcess(pid, seconds * 1000, 1000);
    const peak = peakRssBytes(pid);
    const parts = rssParts(pid);
    const bare = await bareNodeRss();
    options.log(`agent footprint over ${w.seconds.toFixed(0)} s: ${fmt(100 * w.coreShare, 2)} % of a core, RSS max ${mb(w.maxRss)} MB (mean ${mb(w.meanRss)}, peak since start ${mb(peak)} MB)`);
    options.log(`  agent RSS now ${mb(parts.rss)} MB = ${mb(parts.anon)} anonymous + ${mb(parts.file)} file-backed; an idle bare node process: ${mb(bare.rss)} MB = ${mb(bare.anon)} + ${mb(bare.file)}`);
    return [
      { bench: 'agent-footprint', name: `real agent, 50 accounts, report every 5 s, ${seconds} s: RSS (max; peak since start)`, measured: `${mb(w.maxRss)}; ${mb(peak)} MB`, target: '≤ 50 MB', pass: Math.max(w.maxRss, peak) <= 50e6 },
      {
        bench: 'agent-footprint', name: 'agent RSS: anonymous + file-backed; idle bare node for comparison',
        measured: `${mb(parts.anon)} + ${mb(parts.file)} MB; bare node ${mb(bare.anon)} + ${mb(bare.file)} MB`, target: '—', pass: null,
      },
      { bench: 'agent-footprint', name: 'real agent: CPU (share of one core)', measured: `${fmt(100 * w.coreShare, 2)} %`, target: '≤ 0.5 %', pass: w.coreShare <= 0.005 },
    ];
  } finally {
    await fleet.dispose();
  }
}

/** The agent footprint benchmark. */
export const agentFootprintBench: Bench = { name: 'agent-footprint', about: 'RSS and CPU of the real agent over 60 s', run };
