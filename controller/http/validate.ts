/** Request validation: zod schemas at the edge; failures become `INVALID_REQUEST` with the field named. */
import type { z } from 'zod';
import { BerthError } from '../../shared/errors.js';
import { isAccountId } from '../../shared/ids.js';

/** Parses `input` or throws INVALID_REQUEST naming the first bad field. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, where: 'body' | 'query'): T {
  if (where === 'body' && (input === undefined || input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new BerthError('INVALID_REQUEST', 'request body must be a JSON object');
  }
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 5).map((i) => ({ field: i.path.map(String).join('.') || where, message: i.message }));
  const first = issues[0]!;
  throw new BerthError('INVALID_REQUEST', `${first.field}: ${first.message}`, { issues });
}

/** Validates an account id from a path segment. */
export function accountIdParam(raw: string | string[] | undefined): string {
  if (typeof raw !== 'string' || !isAccountId(raw)) throw new BerthError('INVALID_REQUEST', 'invalid account id', { field: 'account_id' });
  return raw;
}

/** Encodes a cursor (opaque to clients). */
export function encodeCursor(value: string | number): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Decodes a cursor or throws INVALID_REQUEST. */
export function decodeCursor<T extends string | number>(cursor: string | undefined, kind: 'string' | 'number'): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    // Cursors are ids this API handed out: a non-negative integer, or a non-empty string.
    if (kind === 'number' && typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v as T;
    if (kind === 'string' && typeof v === 'string' && v.length > 0) return v as T;
  } catch { /* fall through */ }
  throw new BerthError('INVALID_REQUEST', 'cursor is not valid', { field: 'cursor' });
}
