/** The accounts resource: create, list, read, replace the session, move, release. */
import express, { Router } from 'express';
import { z } from 'zod';
import { BerthError } from '../../../shared/errors.js';
import { ACCOUNT_ID_PATTERN, SERVER_ID_PATTERN } from '../../../shared/ids.js';
import { STRATEGIES } from '../../placement/types.js';
import { MAX_SESSION_BYTES } from '../../store/session-files.js';
import type { ApiContext } from '../context.js';
import { accountIdParam, decodeCursor, encodeCursor, parseInput } from '../validate.js';

const text = z.string().max(256);

const createBody = z.strictObject({
  account_id: z.string().regex(ACCOUNT_ID_PATTERN, 'must be 1-128 letters, digits or _ . @ + - and not start with a dot'),
  script_id: text.nullable().optional(),
  session_file: z.string().min(1).max(1024).optional(),
  session_base64: z.string().max(Math.ceil(MAX_SESSION_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').optional(),
  strategy: z.enum(STRATEGIES).optional(),
  location: text.nullable().optional(),
}).refine((b) => !(b.session_file && b.session_base64), { message: 'give session_file or session_base64, not both', path: ['session_file'] });

const listQuery = z.strictObject({
  server_id: z.string().regex(SERVER_ID_PATTERN).optional(),
  script_id: text.optional(),
  status: z.enum(['pending', 'allocated', 'moving', 'orphaned']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(400).optional(),
});

const moveBody = z.strictObject({ server_id: z.string().regex(SERVER_ID_PATTERN).optional() });

/** Routes of the accounts resource. */
export function accountsRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/accounts', async (req, res) => {
    const body = parseInput(createBody, req.body, 'body');
    const bytes = body.session_base64 !== undefined ? Buffer.from(body.session_base64, 'base64') : undefined;
    if (bytes && bytes.length === 0) throw new BerthError('INVALID_REQUEST', 'session_base64: the session is empty');
    const out = await ctx.accounts.create({ ...body, session_bytes: bytes });
    if (out.allocation) return void res.status(201).json({ account: out.account, allocation: out.allocation });
    res.status(202).json({ account: out.account, error: { code: out.error!.code, message: out.error!.message, details: out.error!.details ?? {} } });
  });

  r.get('/accounts', async (req, res) => {
    const q = parseInput(listQuery, req.query, 'query');
    const after = decodeCursor<string>(q.cursor, 'string');
    const page = await ctx.accounts.list({ server_id: q.server_id, script_id: q.script_id, status: q.status, limit: q.limit, after });
    res.json({ items: page.items, next_cursor: page.next ? encodeCursor(page.next) : null });
  });

  r.get('/accounts/:id', async (req, res) => {
    res.json(await ctx.accounts.get(accountIdParam(req.params.id)));
  });

  r.put('/accounts/:id/session', express.raw({ type: () => true, limit: MAX_SESSION_BYTES }), async (req, res) => {
    const id = accountIdParam(req.params.id);
    const body = req.body as unknown;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new BerthError('INVALID_REQUEST', 'the body must be the session file bytes');
    res.json(await ctx.accounts.putSession(id, body));
  });

  r.post('/accounts/:id/move', async (req, res) => {
    const id = accountIdParam(req.params.id);
    const body = parseInput(moveBody, req.body ?? {}, 'body');
    res.json(await ctx.operations.moveAccount(id, body.server_id));
  });

  r.delete('/accounts/:id', async (req, res) => {
    res.json(await ctx.operations.releaseAccount(accountIdParam(req.params.id)));
  });

  return r;
}
