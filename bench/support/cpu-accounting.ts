/**
 * Who used the CPU during a benchmark: per process tree (a process, its live
 * descendants and the children they reaped, from /proc/<pid>/stat utime + stime +
 * cutime + cstime) and the whole machine (/proc/stat), so a report can show how much
 * of the two cores went to the controller, sshd, agents, the load generator, and to
 * processes outside the benchmark.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS } from './stats.js';

interface ProcTimes {
  ppid: number;
  /** Own plus reaped children's CPU, in seconds. */
  total: number;
}

function snapshot(): Map<number, ProcTimes> {
  const out = new Map<number, ProcTimes>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), { ppid: Number(f[1]), total: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS });
    } catch {
      // ended while we looked
    }
  }
  return out;
}

/** CPU seconds of each named group of process trees (roots and all their descendants). */
export function treeCpuSeconds(groups: Record<string, readonly number[]>): Record<string, number> {
  const snap = snapshot();
  const children = new Map<number, number[]>();
  for (const [pid, t] of snap) {
    const list = children.get(t.ppid) ?? [];
    list.push(pid);
    children.set(t.ppid, list);
  }
  const out: Record<string, number> = {};
  for (const [name, roots] of Object.entries(groups)) {
    let sum = 0;
    const seen = new Set<number>();
    const walk = (pid: number): void => {
      if (seen.has(pid)) return;
      seen.add(pid);
      sum += snap.get(pid)?.total ?? 0;
      for (const c of children.get(pid) ?? []) walk(c);
    };
    for (const r of roots) walk(r);
    out[name] = sum;
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine so far, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

/** Measures CPU per group (and the machine) between start and stop. */
export class CpuAccount {
  #t0 = 0;
  #m0 = { busy: 0, total: 0 };
  #g0: Record<string, number> = {};
  #self0 = 0;

  constructor(private readonly groups: () => Record<string, readonly number[]>) {}

  start(): void {
    this.#t0 = performance.now();
    this.#m0 = machineCpuSeconds();
    this.#g0 = treeCpuSeconds(this.groups());
    const u = process.cpuUsage();
    this.#self0 = (u.user + u.system) / 1e6;
  }

  /** Seconds of CPU per group, the load generator (`bench`), `other` (the rest of the machine), and wall seconds. */
  stop(): { wall: number; cores: number; byGroup: Record<string, number> } {
    const wall = (performance.now() - this.#t0) / 1000;
    const m1 = machineCpuSeconds();
    const g1 = treeCpuSeconds(this.groups());
    const u = process.cpuUsage();
    const byGroup: Record<string, number> = {};
    for (const k of Object.keys(g1)) byGroup[k] = g1[k]! - (this.#g0[k] ?? 0);
    byGroup.bench = (u.user + u.system) / 1e6 - this.#self0;
    const ours = Object.values(byGroup).reduce((a, b) => a + b, 0);
    byGroup.other = Math.max(0, m1.busy - this.#m0.busy - ours);
    return { wall, cores: (m1.total - this.#m0.total) / wall, byGroup };
  }
}

/** "controller 1.2 s (31 %), sshd …" with shares of the machine's capacity over the window. */
export function describeCpu(r: { wall: number; cores: number; byGroup: Record<string, number> }, per?: { count: number; unit: string }): string {
  const capacity = r.wall * r.cores;
  const parts = Object.entries(r.byGroup).map(([k, s]) => `${k} ${s.toFixed(1)} s (${Math.round((100 * s) / capacity)} %${per ? `, ${((1000 * s) / per.count).toFixed(2)} ms/${per.unit}` : ''})`);
  return `${r.wall.toFixed(1)} s on ${r.cores.toFixed(0)} cores: ${parts.join(', ')}`;
}

/** Nanoseconds a thread has run on a CPU and waited, runnable, for one (/proc/<pid>/task/<tid>/schedstat). */
export interface ThreadSchedule {
  runNs: number;
  waitNs: number;
}

/** The schedule of a process's main thread (for node: its event loop), or null when unreadable. */
export function mainThreadSchedule(pid: number): ThreadSchedule | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined ? null : { runNs: run, waitNs: wait };
  } catch {
    return null;
  }
}
