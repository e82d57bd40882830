/**
 * The worker's load as the agent reports it: cpu %, memory % (used excluding buffers and
 * cache), disk % of the filesystem holding `sessions_dir`, and the load average.
 *
 * Kept cheap on purpose (one sample every few seconds, for months): cpu comes from
 * `os.cpus()` tick deltas (systeminformation's `currentLoad` formula, without the shell
 * it spawns for steal/guest ticks), memory from one synchronous read of /proc/meminfo
 * with systeminformation's `mem()` formula (`mem()` itself reads the file through five
 * thread-pool round trips and calls `os.freemem()` six times; it stays the fallback where
 * /proc/meminfo has no MemAvailable or it is 0), disk from one `statfs(2)` call, with
 * systeminformation's `fsSize()` (which runs `df`) only as a fallback.
 */
import { readFileSync } from 'node:fs';
import { statfs, realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Si from 'systeminformation';

/**
 * systeminformation's own modules, each loaded when first used: its index loads every
 * module it has (audio, docker, wifi …), 1–2 MB more RSS than the one the agent uses
 * (`lib/memory.js`); `lib/filesystem.js` is needed only when `statfs` fails. The package
 * has no `exports` map, so these paths are public.
 */
const require = createRequire(import.meta.url);
const si = {
  mem: () => (require('systeminformation/lib/memory.js') as Pick<typeof Si, 'mem'>).mem(),
  fsSize: () => (require('systeminformation/lib/filesystem.js') as Pick<typeof Si, 'fsSize'>).fsSize(),
};

/** One load sample, in the units of the `report` message. */
export interface LoadSample {
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  load_avg: number[];
}

/** Something that samples the worker's load. */
export interface MetricsSource {
  sample(): Promise<LoadSample>;
}

/** A mounted filesystem as systeminformation's `fsSize()` lists it. */
export interface MountUse {
  mount: string;
  use: number;
}

interface CpuTicks {
  busy: number;
  total: number;
}

function cpuTicks(): CpuTicks {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/**
 * Memory in use as systeminformation's `mem()` counts it, `active = total − available`
 * (so buffers and page cache are free), from the text of /proc/meminfo. Null when the
 * text lacks MemTotal or MemAvailable (kernels before 3.14, other systems).
 */
export function meminfoUse(text: string): { total: number; active: number } | null {
  const kib = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kib('MemTotal');
  const available = kib('MemAvailable');
  // systeminformation also treats MemAvailable 0 as missing.
  if (!total || !available) return null;
  return { total, active: total - available };
}

/** Clamps to 0–100 with two decimals; NaN becomes 0. */
export function toPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)) * 100) / 100;
}

/** The mount whose path is the longest prefix of `path` (an absolute, real path), or null. */
export function mountFor<T extends MountUse>(path: string, mounts: readonly T[]): T | null {
  let best: T | null = null;
  for (const m of mounts) {
    const prefix = m.mount.endsWith('/') ? m.mount : `${m.mount}/`;
    const matches = path === m.mount || path.startsWith(prefix);
    if (matches && (best === null || m.mount.length > best.mount.length)) best = m;
  }
  return best;
}

/** Samples this machine's load for a session directory. */
export class SystemMetrics implements MetricsSource {
  private readonly sessionsDir: string;
  private last: CpuTicks;
  private lastCpuPercent = 0;

  constructor(options: { sessionsDir: string }) {
    this.sessionsDir = options.sessionsDir;
    // Prime the cpu baseline so the first sample measures the time since start.
    this.last = cpuTicks();
  }

  /** cpu % busy since the previous sample. */
  private cpuPercent(): number {
    const now = cpuTicks();
    const dTotal = now.total - this.last.total;
    const dBusy = now.busy - this.last.busy;
    if (dTotal > 0) {
      this.lastCpuPercent = toPercent((dBusy / dTotal) * 100);
      this.last = now;
    }
    return this.lastCpuPercent;
  }

  private async memoryPercent(): Promise<number> {
    let text = '';
    try {
      // procfs answers from memory: no disk wait to keep off the event loop.
      text = readFileSync('/proc/meminfo', 'latin1');
    } catch {
      // not Linux: systeminformation knows the other systems
    }
    const use = meminfoUse(text);
    if (use) return toPercent((use.active / use.total) * 100);
    const mem = await si.mem();
    const total = mem.total || os.totalmem();
    return toPercent((mem.active / total) * 100);
  }

  private async diskPercent(): Promise<number> {
    try {
      // statfs follows symlinks: the filesystem the directory is on now.
      const s = await statfs(this.sessionsDir);
      const used = (s.blocks - s.bfree) * s.bsize;
      const usable = used + s.bavail * s.bsize;
      // Same figure as df's Use%: blocks reserved for root do not count as free.
      return usable > 0 ? toPercent((used / usable) * 100) : 0;
    } catch {
      const path = await realpath(this.sessionsDir).catch(() => this.sessionsDir);
      const mounts = await si.fsSize();
      return toPercent(mountFor(path, mounts)?.use ?? 0);
    }
  }

  /** Takes one sample. Never rejects: a figure that cannot be read is reported as 0. */
  async sample(): Promise<LoadSample> {
    const [memory, disk] = await Promise.all([
      this.memoryPercent().catch(() => 0),
      this.diskPercent().catch(() => 0),
    ]);
    return {
      cpu_percent: this.cpuPercent(),
      memory_percent: memory,
      disk_percent: disk,
      load_avg: os.loadavg().map((v) => Math.round(Math.max(0, v) * 100) / 100),
    };
  }
}
