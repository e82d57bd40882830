/**
 * Checkpoints SQLite's write-ahead log off the event loop. By default SQLite checkpoints
 * inside the commit that crosses 1,000 log pages, on the connection that commits: for
 * the controller, on its event loop, with two fsyncs (a few milliseconds on a quiet
 * disk, tens on a busy one) that every agent report and API answer then waits behind.
 * A worker thread with its own connection checkpoints every second instead; the
 * controller's connection keeps a far larger automatic threshold only as a fallback,
 * should the worker fall behind.
 */
import { Worker } from 'node:worker_threads';

/** Log pages after which the controller's own connection checkpoints anyway (about 16 MB). */
export const FALLBACK_CHECKPOINT_PAGES = 4000;

/** Options of a {@link WalCheckpointer}. */
export interface WalCheckpointerOptions {
  /** The database file (already in WAL mode). */
  readonly file: string;
  /** @defaultValue 1000 */
  readonly intervalMs?: number;
  /** Told when a checkpoint failed (it is retried at the next interval). */
  readonly onFailure?: (message: string) => void;
}

/** A running background checkpointer. */
export class WalCheckpointer {
  readonly #worker: Worker;
  #stopped: Promise<void> | null = null;
  #exited = false;

  constructor(options: WalCheckpointerOptions) {
    this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { file: options.file, intervalMs: options.intervalMs ?? 1000 },
    });
    this.#worker.on('message', (m: { type?: string; message?: string }) => {
      if (m.type === 'checkpoint_failed') options.onFailure?.(m.message ?? 'checkpoint failed');
    });
    // A worker that cannot start (or dies) leaves the fallback threshold in charge.
    this.#worker.on('error', (e) => options.onFailure?.(e.message));
    this.#worker.on('exit', () => {
      this.#exited = true;
      if (this.#stopped === null) options.onFailure?.('the checkpoint worker stopped; the controller\'s own connection checkpoints from now on');
    });
    this.#worker.unref();
  }

  /** Stops the worker after a last checkpoint; resolves once it has closed its connection. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      this.#worker.once('exit', () => resolve());
      // Unreferenced, the worker would not keep the process alive until it has closed
      // its connection, and the caller's close of the database would never come.
      this.#worker.ref();
      this.#worker.postMessage('stop');
      // A worker stuck in a checkpoint must not hold the shutdown.
      setTimeout(() => void this.#worker.terminate(), 5000).unref();
    });
    return this.#stopped;
  }
}
