/**
 * Agent ingest: the controller as its own process (default timings: reports every 5 s)
 * with 5,000 configured servers, each played by a simulated agent over a real WebSocket
 * with its own token (bench/support/ingest-client.ts, several client processes). Also
 * run at 1,000.
 *
 * Steady state: once every agent is welcomed and one interval has passed, the
 * controller's CPU (share of one core) and RSS are read from /proc/<pid>/stat and
 * /proc/<pid>/status over a window with no API traffic. Then report-to-rankings
 * latency: one agent at a time sends a report whose cpu_percent is a marker value, and
 * GET /allocation/rankings is polled back to back until that server shows it; the time
 * runs from the moment the bench asks the client process to send it until the rankings
 * answer showing it has arrived (so it includes the IPC hop and the rankings call).
 *
 * Targets: controller ≤ 25 % of one core and ≤ 300 MB RSS; report-to-rankings p99 ≤ 100 ms.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fixtureConfig, writeConfig } from '../test/helpers/controller-fixture.js';
import { LoadClient } from './support/load-client.js';
import { removeDir, tempDir } from '../test/helpers/temp.js';
import { sleep, waitFor } from '../test/helpers/wait.js';
import { BenchController } from './support/controller-proc.js';
import { CpuAccount, describeCpu } from './support/cpu-accounting.js';
import { fmt, profileArgs, type Bench, type BenchOptions, type Figure } from './support/figures.js';
import { mb, peakRssBytes, percentile, watchProcess } from './support/stats.js';

const CLIENT_MAIN = fileURLToPath(new URL('./support/ingest-client.js', import.meta.url));
const AGENTS_PER_CLIENT = 1250;

interface Client {
  proc: ChildProcess;
  welcomed: number;
  reports: number;
}

function nodeId(i: number): string {
  return `node-${String(i + 1).padStart(5, '0')}`;
}

interface IngestResult {
  agents: number;
  rampSeconds: number;
  coreShare: number;
  maxRss: number;
  peakRss: number;
  p50: number;
  p99: number;
  rankingsMs: number;
  samples: number;
  cpu: string;
}

async function runSize(agents: number, options: BenchOptions): Promise<IngestResult> {
  const dir = tempDir(`berth-bench-ingest-${agents}-`);
  const ids = Array.from({ length: agents }, (_, i) => nodeId(i));
  const configFile = writeConfig(dir, fixtureConfig(dir, ids.map((id) => ({ id, max_accounts: 100 })), {
    report_interval_ms: 5000, down_after_ms: 15000, lease_ms: 20000, failover_after_ms: 30000, log_level: 'info',
  }));
  const controller = new BenchController({ configFile, cwd: dir, nodeArgs: profileArgs(options.profileDir) });
  const clients: Client[] = [];
  try {
    await controller.ready(60_000);
    const t0 = performance.now();
    for (let i = 0; i < ids.length; i += AGENTS_PER_CLIENT) {
      const proc = fork(CLIENT_MAIN, [JSON.stringify({ port: controller.port, ids: ids.slice(i, i + AGENTS_PER_CLIENT) })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const client: Client = { proc, welcomed: 0, reports: 0 };
      proc.on('message', (m: { type: string; welcomed?: number; reports?: number }) => {
        if (m.type === 'status') {
          client.welcomed = m.welcomed!;
          client.reports = m.reports!;
        }
      });
      clients.push(client);
    }
    const welcomed = () => clients.reduce((n, c) => n + c.welcomed, 0);
    await waitFor(`${agents} agents welcomed`, () => welcomed() >= agents, 180_000, 200);
    const rampSeconds = (performance.now() - t0) / 1000;
    options.log(`ingest ${fmt(agents)}: all agents welcomed in ${rampSeconds.toFixed(1)} s`);
    await sleep(6000);

    const windowMs = options.quick ? 10_000 : 30_000;
    const reports0 = clients.reduce((n, c) => n + c.reports, 0);
    const cpu = new CpuAccount(() => ({ controller: [controller.pid], clients: clients.map((c) => c.proc.pid!) }));
    cpu.start();
    const steady = await watchProcess(controller.pid, windowMs);
    const used = cpu.stop();
    const reportsPerSecond = (clients.reduce((n, c) => n + c.reports, 0) - reports0) / steady.seconds;
    options.log(`ingest ${fmt(agents)}: steady ${steady.seconds.toFixed(0)} s: controller ${fmt(100 * steady.coreShare, 1)} % of a core, RSS max ${mb(steady.maxRss)} MB, ${fmt(reportsPerSecond)} reports/s`);
    options.log(`  CPU: ${describeCpu(used)}`);

    // Report-to-rankings latency, one marker at a time.
    const poller = new LoadClient(controller.port, 1);
    const samples = options.quick ? 15 : 100;
    const latencies: number[] = [];
    const rankingCalls: number[] = [];
    for (let k = 0; k < samples; k++) {
      const index = Math.floor(Math.random() * agents);
      const client = clients[Math.floor(index / AGENTS_PER_CLIENT)]!;
      const value = 90 + ((k * 37) % 1000) / 100 + 0.001 * (k % 7);
      const marker = Math.round(value * 1000) / 1000;
      const sent = performance.now();
      client.proc.send({ type: 'marker', server_id: ids[index], value: marker });
      for (;;) {
        const c0 = performance.now();
        const r = await poller.callRaw('GET', '/allocation/rankings');
        rankingCalls.push(performance.now() - c0);
        const row = rowOf(r.bytes, ids[index]!);
        if (row?.cpu_percent === marker) break;
        if (performance.now() - sent > 15_000) throw new Error(`marker for ${ids[index]} not seen in rankings after 15 s`);
      }
      latencies.push(performance.now() - sent);
      await sleep(100);
    }
    poller.close();
    const out: IngestResult = {
      agents, rampSeconds, coreShare: steady.coreShare, maxRss: steady.maxRss, peakRss: peakRssBytes(controller.pid),
      p50: percentile(latencies, 50), p99: percentile(latencies, 99), rankingsMs: percentile(rankingCalls, 50), samples, cpu: describeCpu(used),
    };
    options.log(`ingest ${fmt(agents)}: report-to-rankings p50 ${fmt(out.p50, 1)} ms, p99 ${fmt(out.p99, 1)} ms (${samples} samples; one rankings call takes ${fmt(out.rankingsMs, 1)} ms at p50, ${fmt(percentile(rankingCalls, 99), 1)} ms at p99, ${fmt(Math.max(...rankingCalls), 1)} ms at most, over ${fmt(rankingCalls.length)} calls); controller peak RSS ${mb(out.peakRss)} MB`);
    return out;
  } finally {
    for (const c of clients) {
      c.proc.send({ type: 'stop' });
    }
    await Promise.all(clients.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once('exit', r)))));
    await controller.stop();
    removeDir(dir);
  }
}

/**
 * One server's row of a rankings answer, found by its id in the raw bytes and parsed
 * alone: parsing the whole answer (1.7 MB at 5,000 servers) would add the load
 * generator's own 15–20 ms to every poll, and even decoding it into a string 1.4 ms.
 */
function rowOf(bytes: Buffer, serverId: string): { cpu_percent: number } | undefined {
  const at = bytes.indexOf(`"server_id":${JSON.stringify(serverId)},`);
  if (at < 0) return undefined;
  const start = bytes.lastIndexOf('{"rank":', at);
  const end = bytes.indexOf('}', at);
  return JSON.parse(bytes.toString('utf8', start, end + 1)) as { cpu_percent: number };
}

async function run(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const agents of options.quick ? [1_000] : [1_000, 5_000]) {
    const r = await runSize(agents, options);
    const n = fmt(agents);
    figures.push(
      { bench: 'agent-ingest', name: `${n} agents / 5 s: controller CPU (share of one core)`, measured: `${fmt(100 * r.coreShare, 1)} %`, target: '≤ 25 %', pass: r.coreShare <= 0.25 },
      { bench: 'agent-ingest', name: `${n} agents: controller RSS (steady max; peak)`, measured: `${mb(r.maxRss)}; ${mb(r.peakRss)} MB`, target: '≤ 300 MB', pass: r.peakRss <= 300e6 },
      { bench: 'agent-ingest', name: `${n} agents: report-to-rankings p50 / p99`, measured: `${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} ms`, target: 'p99 ≤ 100 ms', pass: r.p99 <= 100 },
    );
  }
  return figures;
}

/** The agent-ingest benchmark. */
export const agentIngestBench: Bench = { name: 'agent-ingest', about: 'controller CPU/RSS and report-to-rankings latency with 1,000 and 5,000 agents', run };
