/**
 * The worker's session directory: which `<account_id>.session` files are present, the
 * self-fence (every session file moved into `<sessions_dir>/.fenced/`, none deleted) and
 * the restore of fenced files the controller still assigns to this server.
 *
 * Dotfiles (`.<id>.session.part` uploads in flight, `.fenced/`) are never counted as
 * sessions. Moves never overwrite a file: when `.fenced/<id>.session` already exists the
 * older fenced copy is renamed to `.fenced/<id>.session.fenced-<timestamp>` first, so
 * `.fenced/<id>.session` is always the freshest copy and nothing is lost.
 */
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, rename, unlink, access } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../shared/errors.js';
import { accountIdFromFileName, sessionFileName } from '../shared/ids.js';
import type { LineLogger } from '../shared/line-logger.js';

/** Name of the folder, inside `sessions_dir`, that holds fenced session files. */
export const FENCED_DIR_NAME = '.fenced';

/** Outcome of moving a set of session files. */
export interface MoveOutcome {
  /** Account ids whose file was moved. */
  moved: string[];
  /** Account ids whose file could not be moved, with the reason (no secrets). */
  failed: { account_id: string; reason: string }[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves `from` to `to` without ever replacing an existing `to` (link + unlink; rename
 * after an existence check where hard links are not supported). Throws EEXIST when `to`
 * exists.
 */
async function moveNoClobber(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') throw e;
    if (await exists(to)) throw Object.assign(new Error(`${to} exists`), { code: 'EEXIST' });
    await rename(from, to);
    return;
  }
  await unlink(from);
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close().catch(() => undefined);
}

function reasonOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? 'error';
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:.]/g, '');
}

/** Session files of one directory, scanned, fenced and restored. */
export class SessionsDir {
  /** Absolute path of the session directory. */
  readonly path: string;
  /** Absolute path of `<sessions_dir>/.fenced`. */
  readonly fencedPath: string;
  private readonly log: LineLogger;

  constructor(options: { path: string; logger: LineLogger }) {
    this.path = options.path;
    this.fencedPath = join(options.path, FENCED_DIR_NAME);
    this.log = options.logger;
  }

  /** Creates the session directory (mode 0700) when it is missing. */
  async ensure(): Promise<void> {
    try {
      await mkdir(this.path, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new BerthError('INTERNAL', `cannot create sessions_dir ${this.path}: ${reasonOf(e)}`, undefined, { cause: e });
    }
  }

  private async listIds(dir: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new BerthError('INTERNAL', `cannot read ${dir}: ${reasonOf(e)}`, undefined, { cause: e });
    }
    const ids: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const id = accountIdFromFileName(entry.name);
      if (id !== null) ids.push(id);
    }
    return ids.sort();
  }

  /** Account ids whose `<id>.session` file is present (sorted). Dotfiles and `.fenced/` are ignored. */
  scan(): Promise<string[]> {
    return this.listIds(this.path);
  }

  /** Account ids with a fenced copy `.fenced/<id>.session` (sorted). */
  scanFenced(): Promise<string[]> {
    return this.listIds(this.fencedPath);
  }

  /**
   * Moves the session files of `ids` (default: every one present) into `.fenced/`.
   * Never deletes a file; a file that cannot be moved is reported in `failed`.
   */
  async fence(ids?: readonly string[]): Promise<MoveOutcome> {
    const targets = ids ?? (await this.scan());
    const outcome: MoveOutcome = { moved: [], failed: [] };
    if (targets.length === 0) return outcome;
    await mkdir(this.fencedPath, { recursive: true, mode: 0o700 });
    for (const id of targets) {
      const name = sessionFileName(id);
      const from = join(this.path, name);
      const to = join(this.fencedPath, name);
      try {
        if (await exists(to)) {
          // Keep the older fenced copy beside the new one.
          let aside = `${to}.fenced-${stamp()}`;
          for (let n = 1; await exists(aside); n++) aside = `${to}.fenced-${stamp()}-${n}`;
          await moveNoClobber(to, aside);
        }
        await moveNoClobber(from, to);
        outcome.moved.push(id);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(from))) continue; // already gone
        outcome.failed.push({ account_id: id, reason: reasonOf(e) });
      }
    }
    await syncDir(this.fencedPath);
    await syncDir(this.path);
    return outcome;
  }

  /**
   * Moves back fenced files whose account is in `assigned`; leaves every other fenced file
   * for the controller to collect. A fenced copy is not restored over a live file of the
   * same name (the live one is newer: the controller put it there).
   */
  async restore(assigned: readonly string[]): Promise<MoveOutcome> {
    const wanted = new Set(assigned);
    const fenced = (await this.scanFenced()).filter((id) => wanted.has(id));
    const outcome: MoveOutcome = { moved: [], failed: [] };
    for (const id of fenced) {
      const name = sessionFileName(id);
      try {
        await moveNoClobber(join(this.fencedPath, name), join(this.path, name));
        outcome.moved.push(id);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          this.log.warn({ account_id: id }, 'fenced copy not restored: a live session file of that name exists');
          continue;
        }
        outcome.failed.push({ account_id: id, reason: reasonOf(e) });
      }
    }
    if (outcome.moved.length > 0) {
      await syncDir(this.path);
      await syncDir(this.fencedPath);
    }
    return outcome;
  }
}
