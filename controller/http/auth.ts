/**
 * Bearer-token authentication for the admin API. `admin` tokens may do anything;
 * `viewer` tokens may only read (GET/HEAD). Tokens are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { ApiToken } from '../config.js';
import { sendError } from './errors.js';

const hash = (s: string) => createHash('sha256').update(s).digest();

/** The configured tokens' digests, computed once per (frozen) token list. */
const digests = new WeakMap<readonly ApiToken[], Buffer[]>();

function digestsOf(list: readonly ApiToken[]): Buffer[] {
  let d = digests.get(list);
  if (!d) {
    d = list.map((t) => hash(t.token));
    digests.set(list, d);
  }
  return d;
}

/** Who a request is, or why it is refused. */
export type Authorization =
  | { readonly ok: true; readonly tokenName: string }
  | { readonly ok: false; readonly code: 'UNAUTHORIZED' | 'FORBIDDEN'; readonly message: string };

/**
 * Checks an `Authorization` header against the tokens: 401 without a known bearer token,
 * 403 when a `viewer` token asks for anything but GET or HEAD.
 */
export function authorize(header: string | undefined, method: string | undefined, list: readonly ApiToken[]): Authorization {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return { ok: false, code: 'UNAUTHORIZED', message: 'missing bearer token' };
  const given = hash(header.slice('Bearer '.length));
  const known = digestsOf(list);
  let match: ApiToken | undefined;
  for (let i = 0; i < list.length; i++) if (timingSafeEqual(given, known[i]!)) match = list[i];
  if (!match) return { ok: false, code: 'UNAUTHORIZED', message: 'invalid token' };
  if (match.role !== 'admin' && method !== 'GET' && method !== 'HEAD') {
    return { ok: false, code: 'FORBIDDEN', message: `token "${match.name}" may only read` };
  }
  return { ok: true, tokenName: match.name };
}

/** Middleware checking the token; `tokens` is read per request so a reload applies. */
export function requireToken(tokens: () => readonly ApiToken[]): RequestHandler {
  return (req, res, next) => {
    const auth = authorize(req.headers.authorization, req.method, tokens());
    if (!auth.ok) return sendError(res, auth.code, auth.message);
    res.locals.tokenName = auth.tokenName;
    next();
  };
}
