/**
 * The worker thread of {@link WalCheckpointer}: its own connection to the database,
 * checkpointing the write-ahead log every `intervalMs` (PASSIVE: it copies what it can
 * and never blocks the controller's writes). Stops on the message `'stop'`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new SQLite(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    // A busy or failed checkpoint is retried at the next tick; the controller's own
    // fallback checkpoint bounds the log meanwhile.
    parentPort?.postMessage({ type: 'checkpoint_failed', message: (e as Error).message });
  }
}

const timer = setInterval(checkpoint, intervalMs);
parentPort?.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort?.close();
});
