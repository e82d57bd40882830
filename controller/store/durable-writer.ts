/**
 * Writes files durably from a worker thread: create, write, fsync, close, rename into
 * place, then fsync the folder. Done with the event loop's own calls, one file cost ten
 * trips through libuv's thread pool and the loop's own `rename` and `open`, about a
 * quarter of a millisecond of the loop per file on this machine; with the worker the
 * loop posts one message and gets one answer. The worker takes whatever files arrived
 * since its last round together: it writes them all, then fsyncs them (the first fsync's
 * journal commit carries the others' data), renames them, and fsyncs each folder once.
 * It also hashes the bytes (SHA-256) and, when replacing a file, compares and keeps the
 * old one, so none of that is done on the event loop either.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** SHA-256 of a file's bytes, hex (what the store records as `session_sha256`). */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One file to write. */
export interface DurableFile {
  /** Where the bytes are written first (created or truncated). */
  readonly tmp: string;
  /** Where the file is renamed once it is on disk; null to leave it at `tmp`. */
  readonly target: string | null;
  readonly bytes: Uint8Array;
  /** Mode of a created file. */
  readonly mode: number;
  /**
   * Replacing `target`: when it already holds exactly these bytes nothing is written;
   * when it holds others they are first copied to `previous` (its folder made if
   * missing). The worker looks, so the event loop never waits on the folder's lock
   * while other files are created in it.
   */
  readonly replace?: { readonly previous: string };
}

/** What a write did: wrote the file, found it unchanged, or kept the replaced one and wrote. */
export type DurableResult = 'written' | 'unchanged' | 'previous_kept';

/** A written file: what was done, and the SHA-256 of its bytes (hex). */
export interface DurableDone {
  readonly result: DurableResult;
  readonly sha256: string;
}

/** A job as posted to the worker. */
export interface DurableJob extends DurableFile {
  readonly id: number;
}

/** The worker's answer for one job: `error` is absent when the file is on disk. */
export interface DurableOutcome {
  readonly id: number;
  readonly done?: DurableDone;
  readonly error?: { readonly code?: string; readonly message: string };
}

interface Waiter {
  resolve(done: DurableDone): void;
  reject(e: Error): void;
}

/** The writer; its worker starts at the first write and is started again if it dies. */
export class DurableWriter {
  #worker: Worker | null = null;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #closed = false;
  /** Called once no write is in flight (set by {@link close}). */
  #onIdle: (() => void) | null = null;

  /**
   * Resolves once the file is written, fsynced, renamed (when asked) and its folder
   * fsynced, or found unchanged (see {@link DurableFile.replace}).
   */
  write(file: DurableFile): Promise<DurableDone> {
    if (this.#closed) return Promise.reject(new Error('the file writer is closed'));
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise<DurableDone>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // Pending writes keep the process alive; an idle worker does not.
      if (this.#waiting.size === 1) worker.ref();
      const job: DurableJob = { ...file, id };
      worker.postMessage(job);
    });
  }

  /** Waits for the writes in flight, then stops the worker. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    if (this.#waiting.size > 0) await new Promise<void>((resolve) => { this.#onIdle = resolve; });
    this.#worker = null;
    await worker.terminate();
  }

  /** Settles a write; tells {@link close} when it was the last one in flight. */
  #settle(id: number, settle: (w: Waiter) => void): void {
    const w = this.#waiting.get(id);
    if (!w) return;
    this.#waiting.delete(id);
    settle(w);
    if (this.#waiting.size === 0) this.#onIdle?.();
  }

  #start(): Worker {
    const worker = new Worker(new URL('./durable-writer-worker.js', import.meta.url));
    this.#worker = worker;
    worker.unref();
    worker.on('message', (outcomes: DurableOutcome[]) => {
      for (const o of outcomes) {
        this.#settle(o.id, (w) => (o.error || !o.done
          ? w.reject(Object.assign(new Error(o.error?.message ?? 'no answer from the file writer'), o.error?.code ? { code: o.error.code } : {}))
          : w.resolve(o.done)));
      }
      if (this.#waiting.size === 0 && this.#worker === worker) worker.unref();
    });
    const lost = (why: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      // Whether those files reached the disk is unknown: their writers fail, and the
      // next write starts a new worker.
      const e = new Error(`the file writer stopped (${why}); the write may not be on disk`);
      for (const id of [...this.#waiting.keys()]) this.#settle(id, (w) => w.reject(e));
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return worker;
  }
}
