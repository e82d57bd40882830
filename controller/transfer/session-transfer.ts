/**
 * Moves session files to and from workers over the pooled SFTP connections (SPEC §4):
 * atomic uploads, downloads, removal, listing, and fence-and-collect.
 */
import { posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BerthError, isBerthError } from '../../shared/errors.js';
import { isAccountId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { fencedCopies, readFreshestFenced } from './fenced-copies.js';
import { fencedDir, livePath, partPath } from './remote-names.js';
import {
  readdirOrEmpty, readFileOrNull, renameReplacing, statOrNull, unlinkIfPresent, writeFileSynced,
} from './sftp-ops.js';
import type { SshPool, SshSession } from './ssh-pool.js';
import type { CollectResult } from './types.js';

export type { CollectResult };

/** Mode of a session directory Berth creates. */
export const SESSIONS_DIR_MODE = 0o700;
/** Mode of every session file Berth writes. */
export const SESSION_FILE_MODE = 0o600;

/** Options of a {@link SessionTransfer}. */
export interface SessionTransferOptions {
  readonly pool: SshPool;
  /** Bound on each operation when the call gives none (`upload_timeout_ms`). @defaultValue 10000 */
  readonly defaultTimeoutMs?: number;
  /** @defaultValue a silent logger */
  readonly logger?: Logger;
}

/** Per-call options. */
export interface TransferCallOptions {
  /** Bound on the whole operation, connecting included. */
  readonly timeoutMs?: number;
}

/** A confirmed upload. */
export interface UploadResult {
  /** Absolute remote path of the live session file. */
  readonly remote_path: string;
  readonly duration_ms: number;
}


/** Options of {@link SessionTransfer.fenceAndCollect}. */
export interface FenceOptions extends TransferCallOptions {
  /**
   * Called with what was collected before anything is removed from the worker; store
   * the bytes here. When it throws, nothing is removed and the error passes through.
   */
  readonly onCollected?: (collected: CollectResult) => Promise<void>;
}

/**
 * Thrown by {@link SessionTransfer.fenceAndCollect} when it failed after it began removing
 * files: the worker's copy may already be gone, so the collected copy rides along in
 * `collected` (not enumerable, so it never reaches a log line or an API answer).
 */
export type FenceError = BerthError & { readonly collected?: CollectResult };

/** Session files on a worker. */
export interface RemoteListing {
  /** Account ids whose `<id>.session` is in `sessions_dir`, sorted. */
  readonly live: string[];
  /** File names in `sessions_dir/.fenced/`, sorted. */
  readonly fenced: string[];
}

interface OpState {
  timedOut: boolean;
  connectionId?: number;
  stage: string;
}

/** Session file transfers to and from workers. */
export class SessionTransfer {
  readonly #pool: SshPool;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #cleanups = new Set<Promise<void>>();

  constructor(options: SessionTransferOptions) {
    this.#pool = options.pool;
    this.#timeoutMs = options.defaultTimeoutMs ?? 10_000;
    this.#log = options.logger ?? silentLogger();
  }

  /**
   * Uploads a session: writes `<sessions_dir>/.<id>.session.part` (mode 0600, fsynced),
   * then renames it to `<id>.session`; creates `sessions_dir` (0700) when missing.
   * Resolves only once the rename is confirmed.
   *
   * Throws BerthError: INVALID_REQUEST (bad account id, nothing touched), SERVER_NOT_FOUND,
   * TIMEOUT, HOST_KEY_MISMATCH, SHUTTING_DOWN, or UPLOAD_FAILED. On failure the `.part`
   * file is removed in the background. `details.maybe_placed` is true when the rename
   * was sent but its outcome is unknown (timeout or connection loss during it): the
   * caller must then treat the file as possibly live on that server and fence it.
   */
  async upload(serverId: string, accountId: string, bytes: Buffer, options: TransferCallOptions = {}): Promise<UploadResult> {
    requireAccountId(accountId);
    const started = performance.now();
    const state: OpState = { timedOut: false, stage: 'connect' };
    let sessionsDir: string | undefined;
    try {
      const remote = await this.#bounded(serverId, options, state, async ({ sftp, target }) => {
        sessionsDir = target.sessions_dir;
        state.stage = 'write';
        const part = partPath(target.sessions_dir, accountId);
        await writeFileSynced(sftp, part, bytes, SESSION_FILE_MODE, { createDirMode: SESSIONS_DIR_MODE });
        if (state.timedOut) throw new Error('timed out before rename');
        state.stage = 'rename';
        const live = livePath(target.sessions_dir, accountId);
        await renameReplacing(sftp, part, live);
        state.stage = 'done';
        return live;
      });
      const duration_ms = Math.round(performance.now() - started);
      this.#log.info({ server_id: serverId, account_id: accountId, size: bytes.length, duration_ms }, 'session uploaded');
      return { remote_path: remote, duration_ms };
    } catch (e) {
      const maybePlaced = state.stage === 'rename' && (state.timedOut || !isSftpStatus(e));
      const error = toUploadError(e, serverId, accountId, state.stage, maybePlaced);
      this.#log.warn({ server_id: serverId, account_id: accountId, code: error.code, stage: state.stage, maybe_placed: maybePlaced }, 'session upload failed');
      if (sessionsDir !== undefined && state.stage !== 'done') this.#cleanupPart(serverId, sessionsDir, accountId, options);
      throw error;
    }
  }

  /** Downloads an account's live session file; null when the worker has none. */
  async download(serverId: string, accountId: string, options: TransferCallOptions = {}): Promise<Buffer | null> {
    requireAccountId(accountId);
    const state: OpState = { timedOut: false, stage: 'read' };
    return this.#run(serverId, options, state, ({ sftp, target }) => readFileOrNull(sftp, livePath(target.sessions_dir, accountId)));
  }

  /** True when the account's live session file is on the worker now. */
  async isLive(serverId: string, accountId: string, options: TransferCallOptions = {}): Promise<boolean> {
    requireAccountId(accountId);
    const state: OpState = { timedOut: false, stage: 'stat' };
    return this.#run(serverId, options, state, async ({ sftp, target }) => (await statOrNull(sftp, livePath(target.sessions_dir, accountId))) !== null);
  }

  /**
   * Removes an account's live session file (and a stale `.part`); fenced copies stay
   * (see {@link listRemote}, {@link fenceAndCollect}). True when the live file was there.
   */
  async remove(serverId: string, accountId: string, options: TransferCallOptions = {}): Promise<boolean> {
    requireAccountId(accountId);
    const state: OpState = { timedOut: false, stage: 'unlink' };
    return this.#run(serverId, options, state, async ({ sftp, target }) => {
      await unlinkIfPresent(sftp, partPath(target.sessions_dir, accountId));
      return unlinkIfPresent(sftp, livePath(target.sessions_dir, accountId));
    });
  }

  /** Lists the live session files and the fenced copies on a worker. */
  async listRemote(serverId: string, options: TransferCallOptions = {}): Promise<RemoteListing> {
    const state: OpState = { timedOut: false, stage: 'list' };
    return this.#run(serverId, options, state, async ({ sftp, target }) => {
      const live = (await readdirOrEmpty(sftp, target.sessions_dir))
        .filter((e) => e.attrs.isFile() && e.filename.endsWith('.session') && isAccountId(e.filename.slice(0, -'.session'.length)))
        .map((e) => e.filename.slice(0, -'.session'.length))
        .sort();
      const fenced = (await readdirOrEmpty(sftp, fencedDir(target.sessions_dir))).map((e) => e.filename).sort();
      return { live, fenced };
    });
  }

  /**
   * Fences an account on a worker and collects its session: downloads the live file
   * (or, when absent, the freshest copy in `.fenced/`: `<id>.session` there, else the
   * newest `<id>.session.*` by mtime), removes the live file, every fenced
   * copy of the account and any `.part`, then confirms none is left. Store the returned
   * bytes before anything else happens. Throws (TIMEOUT, SSH_UNREACHABLE,
   * HOST_KEY_MISMATCH, CONFLICT when a copy reappeared, …) when fencing is not confirmed.
   * Callers must first stop assigning the account to this server, so its agent does not
   * restore a fenced copy meanwhile. Pass `onCollected` to store the bytes before any
   * removal; a failure after removal began carries the bytes in `collected` ({@link FenceError}).
   */
  async fenceAndCollect(serverId: string, accountId: string, options: FenceOptions = {}): Promise<CollectResult> {
    requireAccountId(accountId);
    const state: OpState = { timedOut: false, stage: 'collect' };
    let collected: CollectResult | undefined;
    try {
      const result = await this.#run(serverId, options, state, async ({ sftp, target }) => {
        const dir = target.sessions_dir;
        const live = livePath(dir, accountId);
        let found: CollectResult = { bytes: await readFileOrNull(sftp, live), source: 'live' };
        if (found.bytes === null) found = await readFreshestFenced(sftp, dir, accountId);
        if (options.onCollected) {
          state.stage = 'store';
          await options.onCollected(found);
        }
        if (state.timedOut) throw new Error('timed out');
        collected = found;
        state.stage = 'remove';
        await unlinkIfPresent(sftp, live);
        await unlinkIfPresent(sftp, partPath(dir, accountId));
        for (const name of await fencedCopies(sftp, dir, accountId)) await unlinkIfPresent(sftp, posix.join(fencedDir(dir), name));
        state.stage = 'confirm';
        const left = [...((await statOrNull(sftp, live)) ? [live] : []), ...(await fencedCopies(sftp, dir, accountId))];
        if (left.length > 0) {
          throw new BerthError('CONFLICT', `session of account ${accountId} reappeared on server ${serverId} while fencing`, {
            server_id: serverId, account_id: accountId, stage: 'confirm',
          });
        }
        return found;
      });
      this.#log.info({ server_id: serverId, account_id: accountId, source: result.source }, 'session fenced and collected');
      return result;
    } catch (e) {
      if (collected && isBerthError(e)) Object.defineProperty(e, 'collected', { value: collected, enumerable: false });
      this.#log.warn({ server_id: serverId, account_id: accountId, stage: state.stage, code: (e as BerthError).code }, 'fence and collect failed');
      throw e;
    }
  }

  /** Resolves once background `.part` cleanups have finished. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.#cleanups]);
  }

  /** Runs a non-upload operation, mapping raw SFTP failures to SSH_UNREACHABLE. */
  async #run<T>(serverId: string, options: TransferCallOptions, state: OpState, fn: (s: SshSession) => Promise<T>): Promise<T> {
    try {
      return await this.#bounded(serverId, options, state, fn);
    } catch (e) {
      if (isBerthError(e) || state.stage === 'store') throw e;
      throw new BerthError('SSH_UNREACHABLE', `remote ${state.stage} on server ${serverId} failed`, {
        server_id: serverId, stage: state.stage, reason: (e as Error).message,
      }, { cause: e });
    }
  }

  /**
   * Runs `fn` on the server's pooled connection within the time bound. On timeout the
   * connection it used is discarded (a connection that stopped answering must not hold
   * later transfers) and `state.timedOut` tells `fn` to stop.
   */
  async #bounded<T>(serverId: string, options: TransferCallOptions, state: OpState, fn: (s: SshSession) => Promise<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const work = this.#pool.use(serverId, async (session) => {
      if (state.timedOut) throw new Error('timed out before start');
      state.connectionId = session.connectionId;
      return fn(session);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        state.timedOut = true;
        if (state.connectionId !== undefined) this.#pool.discard(serverId, state.connectionId);
        reject(new BerthError('TIMEOUT', `${state.stage} on server ${serverId} timed out after ${timeoutMs} ms`, {
          server_id: serverId, stage: state.stage, timeout_ms: timeoutMs,
        }));
      }, timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
      work.catch(() => undefined);
    }
  }

  #cleanupPart(serverId: string, sessionsDir: string, accountId: string, options: TransferCallOptions): void {
    const state: OpState = { timedOut: false, stage: 'cleanup' };
    const p = this.#bounded(serverId, options, state, ({ sftp }) => unlinkIfPresent(sftp, partPath(sessionsDir, accountId)))
      .then(
        () => undefined,
        (e: unknown) => this.#log.warn({ server_id: serverId, account_id: accountId, err_message: (e as Error).message }, 'could not remove .part file'),
      )
      .finally(() => this.#cleanups.delete(p));
    this.#cleanups.add(p);
  }
}

function requireAccountId(accountId: string): void {
  if (!isAccountId(accountId)) {
    throw new BerthError('INVALID_REQUEST', 'invalid account id', { account_id: String(accountId).slice(0, 140) });
  }
}

function isSftpStatus(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number';
}

function toUploadError(e: unknown, serverId: string, accountId: string, stage: string, maybePlaced: boolean): BerthError {
  const details = { server_id: serverId, account_id: accountId, stage, maybe_placed: maybePlaced };
  if (isBerthError(e)) {
    if (e.code === 'SSH_UNREACHABLE') {
      return new BerthError('UPLOAD_FAILED', `upload to server ${serverId} failed: ${e.message}`, { ...e.details, ...details }, { cause: e });
    }
    return new BerthError(e.code, e.message, { ...e.details, ...details }, { cause: e });
  }
  return new BerthError('UPLOAD_FAILED', `upload to server ${serverId} failed during ${stage}`, {
    ...details, reason: (e as Error)?.message,
  }, { cause: e });
}
