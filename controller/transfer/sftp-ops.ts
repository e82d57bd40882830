/**
 * Promise wrappers over the few SFTP requests the transfers need. Errors keep ssh2's
 * numeric SFTP status in `code` (see {@link isNoSuchFile}).
 */
import { posix } from 'node:path';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

/** SFTP status code for "no such file" (SSH_FX_NO_SUCH_FILE). */
const SFTP_NO_SUCH_FILE = 2;

/** True when an SFTP error means the path does not exist. */
export function isNoSuchFile(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === SFTP_NO_SUCH_FILE;
}

function call<T>(start: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** Stats of `path`, or null when it does not exist. */
export async function statOrNull(sftp: SFTPWrapper, path: string): Promise<Stats | null> {
  try {
    return await call<Stats>((cb) => sftp.stat(path, cb));
  } catch (e) {
    if (isNoSuchFile(e)) return null;
    throw e;
  }
}

/** Creates `dir` and its missing parents with `mode` (like `mkdir -p`). `dir` must be absolute. */
export async function mkdirp(sftp: SFTPWrapper, dir: string, mode: number): Promise<void> {
  const existing = await statOrNull(sftp, dir);
  if (existing) {
    if (!existing.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    return;
  }
  const parent = dir.replace(/\/+[^/]+\/*$/, '') || '/';
  if (parent !== dir) await mkdirp(sftp, parent, mode);
  try {
    await call<void>((cb) => sftp.mkdir(dir, { mode }, (err) => cb(err, undefined)));
  } catch (e) {
    // Lost a race with another mkdir: fine when a directory is there now.
    if (!(await statOrNull(sftp, dir))?.isDirectory()) throw e;
  }
}

/** Options of {@link writeFileSynced}. */
export interface WriteFileOptions {
  /**
   * When the file's directory is missing, create it (and its parents) with this mode and
   * try again. The directory is looked at only then, not before every write.
   */
  readonly createDirMode?: number;
}

/**
 * Writes `bytes` to a new or truncated file with exactly `mode`, fsyncs it when the
 * server supports `fsync@openssh.com`, and closes it. After the open, the mode, the data,
 * the fsync and the close are sent together without waiting for answers (the pooled
 * connection's socket puts them in one system call, `coalesceWrites` in ssh-pool.ts):
 * the server handles one channel's requests in order, so this costs two round trips
 * instead of one per request.
 * Each data piece fits in one SFTP write request (ssh2 would send the rest of a larger
 * one only after the first part is answered, after the close). Any request failing
 * fails the write.
 */
export async function writeFileSynced(sftp: SFTPWrapper, path: string, bytes: Buffer, mode: number, options: WriteFileOptions = {}): Promise<void> {
  const handle = await openForWrite(sftp, path, mode, options.createDirMode);
  const sent: Promise<void>[] = [];
  const request = (start: (cb: (err: Error | null | undefined) => void) => void) => {
    sent.push(call<void>((cb) => start((err) => cb(err, undefined))));
  };
  const modeAndData = (piece: number) => {
    // An existing file keeps its old mode on open, and a server may ignore the mode of
    // the open request or narrow it with a umask: set it in any case.
    request((cb) => sftp.fchmod(handle, mode, cb));
    for (let off = 0; off < bytes.length; off += piece) {
      const len = Math.min(piece, bytes.length - off);
      request((cb) => sftp.write(handle, bytes, off, len, off, cb));
    }
  };
  const syncAndClose = () => {
    if (supports(sftp, 'fsync@openssh.com')) request((cb) => sftp.ext_openssh_fsync(handle, cb));
    request((cb) => sftp.close(handle, cb));
  };
  const piece = writePieceBytes(sftp);
  if (piece > 0) {
    modeAndData(piece);
    syncAndClose();
  } else {
    // The request size is unknown: wait for every piece's answer before fsync and close.
    modeAndData(32 * 1024);
    await Promise.allSettled(sent);
    syncAndClose();
  }
  const outcomes = await Promise.allSettled(sent);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * The largest data piece one SFTP write request carries on this channel: ssh2's limit
 * (from the server's `limits@openssh.com`, or its default), at most 32 KiB; 0 when it
 * cannot be read.
 */
function writePieceBytes(sftp: SFTPWrapper): number {
  const max = (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
  return typeof max === 'number' && max > 0 ? Math.min(32 * 1024, max) : 0;
}

/** Opens `path` for writing (created or truncated); makes its directory first when missing and allowed to. */
async function openForWrite(sftp: SFTPWrapper, path: string, mode: number, createDirMode: number | undefined): Promise<Buffer> {
  const open = () => call<Buffer>((cb) => sftp.open(path, 'w', { mode }, cb));
  try {
    return await open();
  } catch (e) {
    if (createDirMode === undefined || !isNoSuchFile(e)) throw e;
    await mkdirp(sftp, posix.dirname(path), createDirMode);
    return open();
  }
}

/**
 * Renames `from` to `to`, replacing `to`: atomically with `posix-rename@openssh.com`,
 * else by unlinking `to` first (plain SFTP rename refuses to overwrite).
 */
export async function renameReplacing(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  if (supports(sftp, 'posix-rename@openssh.com')) {
    await call<void>((cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)));
    return;
  }
  await unlinkIfPresent(sftp, to);
  await call<void>((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
}

/** Reads a whole file, or null when it does not exist. */
export async function readFileOrNull(sftp: SFTPWrapper, path: string): Promise<Buffer | null> {
  try {
    return await call<Buffer>((cb) => sftp.readFile(path, cb));
  } catch (e) {
    if (isNoSuchFile(e)) return null;
    throw e;
  }
}

/** Removes a file; true when it was there, false when it was already gone. */
export async function unlinkIfPresent(sftp: SFTPWrapper, path: string): Promise<boolean> {
  try {
    await call<void>((cb) => sftp.unlink(path, (err) => cb(err, undefined)));
    return true;
  } catch (e) {
    if (isNoSuchFile(e)) return false;
    throw e;
  }
}

/** Entries of a directory (without `.` and `..`), or an empty list when it does not exist. */
export async function readdirOrEmpty(sftp: SFTPWrapper, dir: string): Promise<FileEntryWithStats[]> {
  try {
    const list = await call<FileEntryWithStats[]>((cb) => sftp.readdir(dir, cb));
    return list.filter((e) => e.filename !== '.' && e.filename !== '..');
  } catch (e) {
    if (isNoSuchFile(e)) return [];
    throw e;
  }
}

function supports(sftp: SFTPWrapper, extension: string): boolean {
  const exts = (sftp as unknown as { _extensions?: Record<string, string> })._extensions;
  return exts?.[extension] === '1';
}
