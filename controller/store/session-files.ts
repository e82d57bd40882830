/**
 * The controller's own copies of sessions, under `sessions_dir`. The current copy of an
 * account is `<sessions_dir>/<account_id>.session`; each replaced copy is kept in
 * `<sessions_dir>/.previous/`. Paths from requests must resolve inside the store.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { BerthError } from '../../shared/errors.js';
import { DurableWriter } from './durable-writer.js';
import { accountIdFromFileName, isAccountId, sessionFileName } from '../../shared/ids.js';

/** SHA-256 of a session, hex: the digest {@link SessionFiles.write} returns. */
export { sha256 } from './durable-writer.js';

/** Largest session accepted (SPEC §5: PUT ≤ 10 MiB). */
export const MAX_SESSION_BYTES = 10 * 1024 * 1024;

/** How many replaced copies are kept per account. */
const KEEP_PREVIOUS = 5;

/**
 * Files up to this size are read with synchronous calls: a session of a few dozen KiB
 * is in the page cache and costs microseconds, far less than a trip through libuv's
 * thread pool (two context switches each, on a busy machine the larger cost). Larger
 * files are read in the pool; every write goes to the {@link DurableWriter}'s thread.
 */
const SYNC_IO_BYTES = 256 * 1024;

/** Mode of every file in the store. */
const FILE_MODE = 0o600;

/** The controller's session store. */
export class SessionFiles {
  readonly dir: string;
  /** The store's real path, resolved once. */
  private rootReal: string | undefined;

  /** Creates, fsyncs and renames files off the event loop. */
  private readonly writer = new DurableWriter();

  constructor(options: { dir: string }) {
    // Absolute and normalised: the inside-the-store checks compare paths as strings.
    this.dir = resolve(options.dir);
  }

  /** Creates the store folder (0700). */
  async init(): Promise<void> {
    await mkdir(join(this.dir, '.previous'), { recursive: true, mode: 0o700 });
  }

  /**
   * Resolves a `session_file` from a request to a path inside the store. A leading
   * `sessions/` names the store itself. Refuses absolute paths, `..`, and symlinks out.
   */
  async resolveRequestPath(sessionFile: string): Promise<string> {
    const invalid = (why: string) => new BerthError('INVALID_REQUEST', `session_file ${why}`, { field: 'session_file' });
    if (sessionFile.length === 0 || sessionFile.length > 1024 || sessionFile.includes('\0')) throw invalid('is not a valid path');
    if (isAbsolute(sessionFile) || /^[A-Za-z]:/.test(sessionFile)) throw invalid('must be relative to the session store');
    let rel = sessionFile.replace(/\\/g, '/');
    if (rel.startsWith('sessions/')) rel = rel.slice('sessions/'.length);
    if (rel.split('/').some((p) => p === '..')) throw invalid('must not contain ".."');
    const candidate = normalize(join(this.dir, rel));
    if (!candidate.startsWith(this.dir + sep)) throw invalid('must stay inside the session store');
    let real: string;
    try {
      real = realpathSync(candidate);
    } catch {
      throw new BerthError('SESSION_FILE_NOT_FOUND', `session file ${sessionFile} not found in the store`, { session_file: sessionFile });
    }
    this.rootReal ??= realpathSync(this.dir);
    const root = this.rootReal;
    const r = relative(root, real);
    if (r.startsWith('..') || isAbsolute(r)) throw invalid('resolves outside the session store');
    const st = statSync(real);
    if (!st.isFile()) throw new BerthError('SESSION_FILE_NOT_FOUND', `session file ${sessionFile} is not a file`, { session_file: sessionFile });
    if (st.size > MAX_SESSION_BYTES) throw new BerthError('INVALID_REQUEST', `session file exceeds ${MAX_SESSION_BYTES} bytes`);
    return real;
  }

  /**
   * The account whose current copy `resolved` (a path from {@link resolveRequestPath})
   * is, or null when it is not an account's copy.
   */
  ownerOf(resolved: string): string | null {
    if (this.rootReal === undefined || dirname(resolved) !== this.rootReal) return null;
    return accountIdFromFileName(basename(resolved));
  }

  /** Path of an account's current copy. */
  pathOf(accountId: string): string {
    if (!isAccountId(accountId)) throw new BerthError('INVALID_REQUEST', 'invalid account id');
    return join(this.dir, sessionFileName(accountId));
  }

  /** Waits for the writes in flight and stops the writer's thread. */
  close(): Promise<void> {
    return this.writer.close();
  }

  /** The account's current copy, or null. */
  async read(accountId: string): Promise<Buffer | null> {
    try {
      return await readWhole(this.pathOf(accountId));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Reads any file already resolved inside the store. */
  readResolved(path: string): Promise<Buffer> {
    return readWhole(path);
  }

  /**
   * Makes `bytes` the account's current copy, durably (write, fsync, rename), keeping
   * the replaced copy in `.previous/`. Returns the SHA-256.
   */
  async write(accountId: string, bytes: Buffer): Promise<string> {
    const target = this.pathOf(accountId);
    const tmp = join(this.dir, `.${sessionFileName(accountId)}.tmp-${process.pid}-${++tmpCounter}`);
    const previous = join(this.dir, '.previous', `${accountId}.${stamp()}.session`);
    // Resolves once the rename and the folder's entry are on disk (the copy must survive
    // a power cut before a worker's copy is removed), or once the copy is found unchanged.
    const done = await this.writer.write({ tmp, target, bytes, mode: FILE_MODE, replace: { previous } });
    if (done.result === 'previous_kept') await this.prunePrevious(accountId);
    return done.sha256;
  }

  /**
   * Keeps a copy collected from a worker the account does not live on, for the operator
   * to inspect: `<sessions_dir>/.recovered/<account_id>.<server_id>.<time>.session`.
   */
  async keepRecovered(accountId: string, serverId: string, bytes: Buffer): Promise<string> {
    this.pathOf(accountId);
    const dir = join(this.dir, '.recovered');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${accountId}.${serverId}.${stamp()}.session`);
    await this.writer.write({ tmp: file, target: null, bytes, mode: FILE_MODE });
    return file;
  }

  /** Removes an account's oldest replaced copies beyond {@link KEEP_PREVIOUS}. */
  private async prunePrevious(accountId: string): Promise<void> {
    const prevDir = join(this.dir, '.previous');
    const stamped = /^\d{4}-\d\d-\d\dT[\d-]+Z\.session$/;
    const mine = (await readdir(prevDir)).filter((f) => f.startsWith(`${accountId}.`) && stamped.test(f.slice(accountId.length + 1))).sort();
    for (const old of mine.slice(0, Math.max(0, mine.length - KEEP_PREVIOUS))) await rm(join(prevDir, old), { force: true });
  }
}

/** Numbers the temporary files of this process, so no two writes share one. */
let tmpCounter = 0;
/** The last time {@link stamp} used, in ms. */
let lastStampMs = 0;

/**
 * A file-name-safe UTC timestamp, later than every one this process made before, so two
 * copies kept in the same millisecond do not get the same name.
 */
function stamp(): string {
  lastStampMs = Math.max(Date.now(), lastStampMs + 1);
  return new Date(lastStampMs).toISOString().replace(/[:.]/g, '-');
}

/** Reads a whole file: small ones in one synchronous go (see {@link SYNC_IO_BYTES}). */
async function readWhole(path: string): Promise<Buffer> {
  const fd = openSync(path, constants.O_RDONLY);
  let small: Buffer | null = null;
  try {
    if (fstatSync(fd).size <= SYNC_IO_BYTES) small = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  return small ?? readFile(path);
}
