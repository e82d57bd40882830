/**
 * The worker thread of {@link DurableWriter}. Each round takes every job that arrived
 * since the last one: creates and writes each file, fsyncs and closes them, renames them
 * into place, fsyncs each folder involved once, and answers for the whole round. A job
 * that fails is answered with its error (its temporary file removed) and does not stop
 * the others. A job replacing a file first compares it: unchanged, it is answered at
 * once; changed, the old file is copied aside before the new one is written.
 */
import { closeSync, constants, copyFileSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { sha256, type DurableJob, type DurableOutcome, type DurableResult } from './durable-writer.js';

const queue: DurableJob[] = [];

parentPort?.on('message', (job: DurableJob) => {
  queue.push(job);
  if (queue.length === 1) setImmediate(round);
});

function failure(e: unknown): DurableOutcome['error'] {
  const err = e as NodeJS.ErrnoException;
  return { message: err.message ?? String(e), ...(typeof err.code === 'string' ? { code: err.code } : {}) };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Removes a temporary file left by a failed job; a failure to remove it is not the job's error. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left behind: a later write to the same name truncates it.
  }
}

/** Closes a descriptor; returns the error instead of throwing it (EIO on some filesystems). */
function closeQuietly(fd: number): unknown {
  try {
    closeSync(fd);
    return null;
  } catch (e) {
    return e;
  }
}

/** fsyncs a file or folder by path. */
function syncPath(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * For a job replacing its target: 'unchanged' when the target already holds the same
 * bytes (then it is fsynced, since whoever put it there may not have); else copies the
 * old file aside when there is one.
 */
function compareAndKeep(job: DurableJob): DurableResult {
  if (!job.replace || job.target === null) return 'written';
  let current: Buffer;
  try {
    current = readFileSync(job.target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'written';
    throw e;
  }
  if (current.equals(job.bytes)) {
    syncPath(job.target);
    return 'unchanged';
  }
  mkdirSync(dirname(job.replace.previous), { recursive: true, mode: 0o700 });
  copyFileSync(job.target, job.replace.previous);
  return 'previous_kept';
}

function round(): void {
  // Two jobs for one file wait for separate rounds, so the later one compares against
  // what the earlier one wrote and never shares its temporary file.
  const jobs: DurableJob[] = [];
  const deferred: DurableJob[] = [];
  const names = new Set<string>();
  for (const job of queue.splice(0)) {
    const mine = [job.tmp, ...(job.target !== null ? [job.target] : [])];
    if (mine.some((n) => names.has(n))) {
      deferred.push(job);
    } else {
      for (const n of mine) names.add(n);
      jobs.push(job);
    }
  }
  queue.unshift(...deferred);
  const errors = new Map<number, DurableOutcome['error']>();
  const fail = (job: DurableJob, e: unknown): void => {
    if (!errors.has(job.id)) errors.set(job.id, failure(e));
    removeQuietly(job.tmp);
  };
  const results = new Map<number, DurableResult>();
  const opened: { job: DurableJob; fd: number }[] = [];
  const folders = new Map<string, DurableJob[]>();
  const inFolder = (job: DurableJob): void => {
    const folder = dirname(job.target ?? job.tmp);
    const list = folders.get(folder);
    if (list) list.push(job);
    else folders.set(folder, [job]);
  };
  for (const job of jobs) {
    try {
      const result = compareAndKeep(job);
      results.set(job.id, result);
      if (result === 'unchanged') {
        inFolder(job); // its entry may not be on disk either
        continue;
      }
    } catch (e) {
      errors.set(job.id, failure(e));
      continue;
    }
    let fd: number | undefined;
    try {
      fd = openSync(job.tmp, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, job.mode);
      writeAll(fd, job.bytes);
      opened.push({ job, fd });
    } catch (e) {
      if (fd !== undefined) closeQuietly(fd);
      fail(job, e);
    }
  }
  // The first fsync commits the journal with the other files' data; the rest find
  // little left to do.
  for (const { job, fd } of opened) {
    try {
      fsyncSync(fd);
    } catch (e) {
      errors.set(job.id, failure(e));
    }
    const closeError = closeQuietly(fd);
    if (closeError && !errors.has(job.id)) errors.set(job.id, failure(closeError));
    if (errors.has(job.id)) removeQuietly(job.tmp);
  }
  for (const { job } of opened) {
    if (errors.has(job.id)) continue;
    try {
      if (job.target !== null) renameSync(job.tmp, job.target);
      inFolder(job);
    } catch (e) {
      fail(job, e);
    }
  }
  for (const [folder, waiting] of folders) {
    try {
      syncPath(folder);
    } catch (e) {
      // The file is in place but its entry may not be on disk yet.
      for (const job of waiting) errors.set(job.id, failure(e));
    }
  }
  const outcomes: DurableOutcome[] = jobs.map((job) => (errors.has(job.id)
    ? { id: job.id, error: errors.get(job.id) }
    : { id: job.id, done: { result: results.get(job.id) ?? 'written', sha256: sha256(job.bytes) } }));
  parentPort?.postMessage(outcomes);
  if (queue.length > 0) setImmediate(round);
}
