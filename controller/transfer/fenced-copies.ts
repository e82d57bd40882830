/**
 * Finding an account's copies in a worker's `.fenced/` directory (SPEC §6: a
 * self-fencing agent moves session files there and never deletes one).
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { fencedCopyOwner, fencedDir } from './remote-names.js';
import { readdirOrEmpty, readFileOrNull } from './sftp-ops.js';
import type { CollectResult } from './types.js';

/** Names of the account's copies in `.fenced/`. */
export async function fencedCopies(sftp: SFTPWrapper, sessionsDir: string, accountId: string): Promise<string[]> {
  return (await readdirOrEmpty(sftp, fencedDir(sessionsDir)))
    .filter((e) => fencedCopyOwner(e.filename) === accountId)
    .map((e) => e.filename);
}

/** 1 for the exact `<id>.session` name, else 0. */
function rank(name: string): number {
  return name.endsWith('.session') ? 1 : 0;
}

/**
 * Reads the account's freshest fenced copy: `.fenced/<id>.session` (the agent keeps the
 * freshest under that name and renames older ones aside), else the newest
 * `<id>.session.*` by modification time.
 */
export async function readFreshestFenced(sftp: SFTPWrapper, sessionsDir: string, accountId: string): Promise<CollectResult> {
  const copies = (await readdirOrEmpty(sftp, fencedDir(sessionsDir)))
    .filter((e) => e.attrs.isFile() && fencedCopyOwner(e.filename) === accountId)
    // The agent keeps the freshest copy as `<id>.session` and renames older ones aside;
    // without it, the newest by modification time wins.
    .sort((a, b) => rank(b.filename) - rank(a.filename) || b.attrs.mtime - a.attrs.mtime || (a.filename < b.filename ? 1 : -1));
  for (const copy of copies) {
    const bytes = await readFileOrNull(sftp, posix.join(fencedDir(sessionsDir), copy.filename));
    if (bytes !== null) return { bytes, source: 'fenced' };
  }
  return { bytes: null, source: 'none' };
}
