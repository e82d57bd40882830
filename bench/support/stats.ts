/**
 * Measuring helpers: percentiles, and a process's CPU time and RSS read from /proc.
 */
import { readFileSync } from 'node:fs';

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
export const CLOCK_TICKS = 100;

/** CPU time (user + system, seconds) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state(0) ppid(1) … utime(11) stime(12).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident set size (bytes) of a process, from VmRSS in /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Peak RSS so far (bytes), VmHWM in /proc/<pid>/status. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** What {@link watchProcess} saw over a window. */
export interface ProcessWindow {
  /** CPU used over the window as a share of one core (0.25 = 25 %). */
  coreShare: number;
  /** Largest RSS sampled in the window (bytes). */
  maxRss: number;
  /** Mean RSS sampled in the window (bytes). */
  meanRss: number;
  seconds: number;
}

/**
 * Samples a process's RSS every `everyMs` for `ms` and measures its CPU over the same
 * window (from /proc, so it sees the process from outside).
 */
export async function watchProcess(pid: number, ms: number, everyMs = 500): Promise<ProcessWindow> {
  const t0 = performance.now();
  const c0 = cpuSeconds(pid);
  const rss: number[] = [rssBytes(pid)];
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, Math.min(everyMs, ms - (performance.now() - t0))));
    rss.push(rssBytes(pid));
  }
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds(pid);
  return {
    coreShare: (c1 - c0) / seconds,
    maxRss: Math.max(...rss),
    meanRss: rss.reduce((a, b) => a + b, 0) / rss.length,
    seconds,
  };
}

/** Bytes as MB (10^6), rounded to one decimal. */
export function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}

/** RSS split into private anonymous memory and file-backed pages (the node binary, shared), bytes. */
export function rssParts(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** RSS parts of an idle `node -e 'setInterval(…)'` on this machine: the floor any Node process starts from. */
export async function bareNodeRss(): Promise<{ rss: number; anon: number; file: number }> {
  const { spawn } = await import('node:child_process');
  const proc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const parts = rssParts(proc.pid!);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
  return parts;
}
