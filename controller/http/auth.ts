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

/** Middleware checking the token; `tokens` is read per request so a reload applies. */
export function requireToken(tokens: () => readonly ApiToken[]): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      return sendError(res, 'UNAUTHORIZED', 'missing bearer token');
    }
    const given = hash(header.slice('Bearer '.length));
    const list = tokens();
    const known = digestsOf(list);
    let match: ApiToken | undefined;
    for (let i = 0; i < list.length; i++) if (timingSafeEqual(given, known[i]!)) match = list[i];
    if (!match) return sendError(res, 'UNAUTHORIZED', 'invalid token');
    if (match.role !== 'admin' && req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, 'FORBIDDEN', `token "${match.name}" may only read`);
    }
    res.locals.tokenName = match.name;
    next();
  };
}
