/**
 * Identifier rules shared by both ends. An account id becomes a file name
 * (`<account_id>.session`) on workers and in the controller's store, so it may hold
 * no path separator, cannot start with a dot and is bounded in length.
 */
/** Longest account id, in characters. */
export const MAX_ACCOUNT_ID_LENGTH = 128;

export const ACCOUNT_ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,${MAX_ACCOUNT_ID_LENGTH - 1}}$`);

/** Server ids appear in headers, URLs and file names: the same shape as account ids. */
export const SERVER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Suffix of a session file. */
export const SESSION_SUFFIX = '.session';

/** True when `id` is a valid account id. */
export function isAccountId(id: unknown): id is string {
  return typeof id === 'string' && ACCOUNT_ID_PATTERN.test(id);
}

/** File name of an account's session. */
export function sessionFileName(accountId: string): string {
  return `${accountId}${SESSION_SUFFIX}`;
}

/** The account id a session file name stands for, or null when it is not one. */
export function accountIdFromFileName(name: string): string | null {
  if (!name.endsWith(SESSION_SUFFIX)) return null;
  const id = name.slice(0, -SESSION_SUFFIX.length);
  return isAccountId(id) ? id : null;
}
