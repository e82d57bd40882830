/** POST /allocation/allocate, POST /allocation/rebalance, GET /allocation/rankings, GET /allocation/history. */
import { Router } from 'express';
import { z } from 'zod';
import { ACCOUNT_ID_PATTERN, SERVER_ID_PATTERN } from '../../../shared/ids.js';
import { rankServers } from '../../placement/pipeline.js';
import { STRATEGIES, type Candidate } from '../../placement/types.js';
import type { AllocationResult } from '../../operations/types.js';
import type { ApiContext } from '../context.js';
import { RankingRowTexts, rankingRow } from '../ranking-rows.js';
import { sendJsonWithArray } from '../stream-json.js';
import { decodeCursor, encodeCursor, parseInput } from '../validate.js';

const accountId = z.string().regex(ACCOUNT_ID_PATTERN, 'must be 1-128 letters, digits or _ . @ + - and not start with a dot');
const serverId = z.string().regex(SERVER_ID_PATTERN, 'is not a valid server id');
const text = z.string().max(256);

const allocateBody = z.strictObject({
  account_id: accountId,
  session_file: z.string().min(1).max(1024).optional(),
  script_id: text.nullable().optional(),
  strategy: z.enum(STRATEGIES).optional(),
  location: text.nullable().optional(),
  strict: z.boolean().optional(),
  server_id: serverId.optional(),
  dry_run: z.boolean().optional(),
  explain: z.boolean().optional(),
});

const rebalanceBody = z.strictObject({
  threshold: z.number().min(0).max(100).optional(),
  max_migrations: z.number().int().min(0).max(10000).optional(),
  dry_run: z.boolean().optional(),
});

const rankingsQuery = z.strictObject({
  strategy: z.enum(STRATEGIES).optional(),
  /** `true` adds each server's score breakdown. */
  explain: z.enum(['true', 'false']).optional(),
  script_id: text.optional(),
  location: text.optional(),
});

const historyQuery = z.strictObject({
  account_id: accountId.optional(),
  server_id: serverId.optional(),
  allocation_type: z.enum(['initial', 'manual', 'rebalance', 'failover', 'drain', 'release']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

/**
 * POST /allocation/allocate for a JSON body already read: its status and answer. The
 * express route and the hot path (../hot-path.ts) both send this; a thrown error (a
 * rejection) is answered by each path's error handling.
 */
export async function allocateAnswer(ctx: ApiContext, body: unknown): Promise<{ status: number; body: AllocationResult }> {
  const result = await ctx.operations.allocate(parseInput(allocateBody, body, 'body'));
  return { status: result.dry_run ? 200 : 201, body: result };
}

/** Routes under /allocation. */
export function allocationRoutes(ctx: ApiContext): Router {
  const r = Router();
  const rowTexts = new RankingRowTexts();

  r.post('/allocation/allocate', async (req, res) => {
    const a = await allocateAnswer(ctx, req.body);
    res.status(a.status).json(a.body);
  });

  r.post('/allocation/rebalance', async (req, res) => {
    const body = parseInput(rebalanceBody, req.body ?? {}, 'body');
    res.json(await ctx.operations.rebalance(body));
  });

  r.get('/allocation/rankings', async (req, res) => {
    const q = parseInput(rankingsQuery, req.query, 'query');
    const { weights } = ctx.config().controller;
    const explain = q.explain === 'true';
    const candidates = rankServers(ctx.fleet.servers, { strategy: q.strategy ?? ctx.config().controller.default_strategy, script_id: q.script_id ?? null, location: q.location ?? null }, weights, { breakdown: explain });
    await sendJsonWithArray(res, { generated_at: new Date().toISOString(), weights }, 'servers', candidates, explain
      ? (c, i) => JSON.stringify(rankingRow(i + 1, c, ctx.fleet.get(c.server_id)!, true))
      : (c, i) => rowTexts.text(i + 1, c, ctx.fleet.get(c.server_id)!));
  });

  r.get('/allocation/history', async (req, res) => {
    const q = parseInput(historyQuery, req.query, 'query');
    const before = decodeCursor<number>(q.cursor, 'number');
    const rows = await ctx.store.history.list({
      ...(q.account_id ? { account_id: q.account_id } : {}),
      ...(q.server_id ? { server_id: q.server_id } : {}),
      ...(q.allocation_type ? { allocation_type: q.allocation_type } : {}),
      ...(before !== undefined ? { before } : {}),
      limit: q.limit + 1,
    });
    const items = rows.slice(0, q.limit);
    res.json({ items, next_cursor: rows.length > q.limit ? encodeCursor(items[items.length - 1]!.id) : null });
  });

  return r;
}
