/**
 * Names of the files Berth keeps in a worker's session directory (SPEC §4, §6).
 */
import { posix } from 'node:path';
import { accountIdFromFileName, SESSION_SUFFIX, sessionFileName } from '../../shared/ids.js';

/** Sub-directory of `sessions_dir` where a self-fencing agent moves its session files. */
export const FENCED_DIR = '.fenced';

/** Remote path of an account's live session file. */
export function livePath(sessionsDir: string, accountId: string): string {
  return posix.join(sessionsDir, sessionFileName(accountId));
}

/** Remote path of the temporary file an upload writes before its rename: `.<id>.session.part`. */
export function partPath(sessionsDir: string, accountId: string): string {
  return posix.join(sessionsDir, `.${sessionFileName(accountId)}.part`);
}

/** Remote path of the fenced directory. */
export function fencedDir(sessionsDir: string): string {
  return posix.join(sessionsDir, FENCED_DIR);
}

/**
 * The account a file in `.fenced/` belongs to, or null. A fenced copy is named
 * `<id>.session` or `<id>.session.<suffix>` (an agent may add a suffix such as a time
 * stamp to keep several copies). A name that ends in `.session` always belongs to the
 * id before that suffix; otherwise the id is what precedes the last `.session.`.
 */
export function fencedCopyOwner(name: string): string | null {
  if (name.endsWith(SESSION_SUFFIX)) return accountIdFromFileName(name);
  const at = name.lastIndexOf(`${SESSION_SUFFIX}.`);
  if (at <= 0 || at + SESSION_SUFFIX.length + 1 >= name.length) return null;
  return accountIdFromFileName(name.slice(0, at + SESSION_SUFFIX.length));
}
