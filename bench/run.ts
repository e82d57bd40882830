/**
 * `npm run bench`: runs every benchmark (or those named: `node dist/bench/run.js
 * placement rebalance`), then prints one table of figures, targets and ratios on
 * stdout. `--quick` shortens the runs and skips failover with default settings.
 * `--profile DIR` makes the controllers the benchmarks start write CPU profiles there.
 * Progress goes to stderr. Exit code 0 even when a target is missed: the table says so.
 */
import { agentFootprintBench } from './agent-footprint.js';
import { agentIngestBench } from './agent-ingest.js';
import { allocationsBench } from './allocations.js';
import { failoverBench } from './failover.js';
import { placementBench } from './placement.js';
import { rebalanceBench } from './rebalance.js';
import { renderTable, type Bench, type Figure } from './support/figures.js';

const BENCHES: Bench[] = [placementBench, rebalanceBench, allocationsBench, agentIngestBench, failoverBench, agentFootprintBench];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const at = args.indexOf('--profile');
  const profileDir = at >= 0 ? args[at + 1] ?? null : null;
  const names = args.filter((a, i) => !a.startsWith('--') && !(at >= 0 && i === at + 1));
  if (args.includes('--help')) {
    process.stdout.write(`usage: node dist/bench/run.js [--quick] [--profile DIR] [${BENCHES.map((b) => b.name).join('|')} …]\n`);
    for (const b of BENCHES) process.stdout.write(`  ${b.name.padEnd(16)} ${b.about}\n`);
    return;
  }
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const chosen = names.length === 0 ? BENCHES : BENCHES.filter((b) => names.includes(b.name));
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const figures: Figure[] = [];
  const started = Date.now();
  for (const bench of chosen) {
    log(`${bench.name}: ${bench.about}`);
    try {
      figures.push(...(await bench.run({ quick, log, profileDir })));
    } catch (e) {
      log(`${bench.name} failed: ${(e as Error).stack ?? String(e)}`);
      figures.push({ bench: bench.name, name: 'run', measured: `failed: ${(e as Error).message.slice(0, 120)}`, target: '—', pass: false });
    }
  }
  process.stdout.write(`\n${renderTable(figures)}\n\n${quick ? 'quick run; ' : ''}${((Date.now() - started) / 1000).toFixed(0)} s in all\n`);
  // Fixtures (sshd, child processes) are cleaned up by their own exit hooks.
  process.exit(0);
}

void main();
