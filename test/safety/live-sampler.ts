/**
 * The safety net of the safety tests: a worker thread scans every worker's session
 * directory every few milliseconds, independent of the controller's event loop, and
 * records any moment at which one account's session file is live
 * (`<sessions_dir>/<id>.session`) on two workers at once.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** A moment two workers held the same live session. */
export interface Duplicate {
  account_id: string;
  servers: string[];
  at: number;
}

/** Live session ids of one directory (dotfiles and `.fenced/` are not live). */
export function liveIds(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.session') && !f.startsWith('.')).map((f) => f.slice(0, -'.session'.length));
  } catch {
    return [];
  }
}

/** One scan: the duplicates seen. */
function scanOnce(workers: Record<string, string>): Duplicate[] {
  const where = new Map<string, string[]>();
  for (const [server, dir] of Object.entries(workers)) {
    for (const id of liveIds(dir)) {
      const list = where.get(id) ?? [];
      list.push(server);
      where.set(id, list);
    }
  }
  const out: Duplicate[] = [];
  for (const [id, servers] of where) {
    if (servers.length < 2) continue;
    // The directories were read one after another: a move between two reads (fence on
    // the first, upload to the second, while this thread was preempted) would look like a
    // duplicate. Confirmed only if the file is still live on each, checked in reverse
    // order, so the copy seen first was live throughout.
    if ([...servers].reverse().every((server) => existsSync(join(workers[server]!, `${id}.session`)))) {
      out.push({ account_id: id, servers, at: Date.now() });
    }
  }
  return out;
}

/** Samples worker directories in a worker thread until stopped. */
export class LiveSampler {
  duplicates: Duplicate[] = [];
  scans = 0;
  private worker: Worker | null = null;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));

  /** `workers`: server id → its sessions dir. */
  constructor(private readonly workers: Record<string, string>, private readonly everyMs = 5) {}

  /** Starts the thread; resolves once it has made its first scan. */
  async start(): Promise<this> {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { workers: this.workers, everyMs: this.everyMs, stop: this.stopFlag } });
    await new Promise<void>((resolve) => {
      this.worker!.on('message', (m: { ready?: true; scans: number; duplicates: Duplicate[] }) => {
        if (m.ready) return resolve();
        this.scans = m.scans;
        this.duplicates = m.duplicates;
      });
    });
    return this;
  }

  /** Stops sampling and collects the results. */
  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    const done = new Promise<void>((r) => w.once('exit', () => r()));
    Atomics.store(this.stopFlag, 0, 1);
    Atomics.notify(this.stopFlag, 0);
    await done;
  }
}

if (!isMainThread && workerData?.workers) {
  const { workers, everyMs, stop } = workerData as { workers: Record<string, string>; everyMs: number; stop: Int32Array };
  const duplicates: Duplicate[] = [];
  let scans = 0;
  while (Atomics.load(stop, 0) === 0) {
    duplicates.push(...scanOnce(workers));
    if (scans++ === 0) parentPort!.postMessage({ ready: true });
    Atomics.wait(stop, 0, 0, everyMs);
  }
  parentPort!.postMessage({ scans, duplicates });
}
