/**
 * What a benchmark hands back: one row of the results table per figure, and the table
 * itself as `npm run bench` prints it.
 */

/** One measured figure and its target. */
export interface Figure {
  /** Which benchmark measured it, e.g. `placement`. */
  bench: string;
  /** What was measured, e.g. `load_balance, 1,000 servers: decisions/s`. */
  name: string;
  /** The measured value, formatted with its unit. */
  measured: string;
  /** The target, formatted; `—` when the figure is reported only. */
  target: string;
  /** Ratio to the baseline measured in the same run, when a baseline applies. */
  ratio?: string;
  /** Met the target: true, false, or null when there is no target. */
  pass: boolean | null;
}

/** Options every benchmark gets. */
export interface BenchOptions {
  /** Shorter runs; skips the slowest set-ups (failover with default settings). */
  quick: boolean;
  /** Progress lines (stderr), so the table on stdout stays clean. */
  log: (line: string) => void;
  /** `--profile DIR`: controllers started by a benchmark write a CPU profile (`--cpu-prof`) here. */
  profileDir: string | null;
}

/** Node flags that make a child process write a CPU profile into `dir` (none when null). */
export function profileArgs(dir: string | null): string[] {
  return dir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** A benchmark: a name for the command line and its run. */
export interface Bench {
  name: string;
  /** One line saying what it does. */
  about: string;
  run(options: BenchOptions): Promise<Figure[]>;
}

/** Formats a number with thousands separators and at most `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Renders figures as a Markdown table (readable in a terminal and in RESULTS.md). */
export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.bench, f.name, f.measured, f.target, f.ratio ?? '', f.pass === null ? 'info' : f.pass ? 'PASS' : 'MISS']);
  const head = ['bench', 'figure', 'measured', 'target', 'ratio', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
