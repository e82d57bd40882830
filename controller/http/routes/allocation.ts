/** POST /allocation/allocate, POST /allocation/rebalance, GET /allocation/rankings, GET /allocation/history. */
import { Router } from 'express';
import { z } from 'zod';
import { ACCOUNT_ID_PATTERN, SERVER_ID_PATTERN } from '../../../shared/ids.js';
import type { ServerState } from '../../fleet/server-state.js';
import { rankServers } from '../../placement/pipeline.js';
import { STRATEGIES, type Candidate } from '../../placement/types.js';
import type { ApiContext } from '../context.js';
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

/** Each server's last report time as ISO text, formatted once per report rather than per answer. */
const reportTimes = new WeakMap<ServerState, { at: number; iso: string }>();

function reportTimeOf(s: ServerState): string | null {
  if (s.last_report_at === null) return null;
  const cached = reportTimes.get(s);
  if (cached?.at === s.last_report_at) return cached.iso;
  const iso = new Date(s.last_report_at).toISOString();
  reportTimes.set(s, { at: s.last_report_at, iso });
  return iso;
}

/** One server of GET /allocation/rankings (SPEC §5), built flat: this runs for every server. */
function rankingRow(rank: number, c: Candidate, s: ServerState, withBreakdown: boolean) {
  return {
    rank, server_id: c.server_id, load_score: c.load_score, eligible: c.eligible, reasons: c.reasons,
    status: s.status, healthy: s.healthy, location: s.location,
    cpu_percent: s.cpu_percent, memory_percent: s.memory_percent, disk_percent: s.disk_percent,
    accounts: s.accounts, reported_accounts: s.reported_accounts, max_accounts: s.max_accounts,
    latency_ms: s.latency_ms, last_report_at: reportTimeOf(s),
    consecutive_failures: s.consecutive_failures,
    ...(withBreakdown ? { breakdown: c.breakdown } : {}),
  };
}

/** Routes under /allocation. */
export function allocationRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/allocation/allocate', async (req, res) => {
    const body = parseInput(allocateBody, req.body, 'body');
    const result = await ctx.operations.allocate(body);
    res.status(result.dry_run ? 200 : 201).json(result);
  });

  r.post('/allocation/rebalance', async (req, res) => {
    const body = parseInput(rebalanceBody, req.body ?? {}, 'body');
    res.json(await ctx.operations.rebalance(body));
  });

  r.get('/allocation/rankings', (req, res) => {
    const q = parseInput(rankingsQuery, req.query, 'query');
    const { weights } = ctx.config().controller;
    const explain = q.explain === 'true';
    const candidates = rankServers(ctx.fleet.servers, { strategy: q.strategy ?? ctx.config().controller.default_strategy, script_id: q.script_id ?? null, location: q.location ?? null }, weights, { breakdown: explain });
    sendJsonWithArray(res, { generated_at: new Date().toISOString(), weights }, 'servers', candidates,
      (c, i) => rankingRow(i + 1, c, ctx.fleet.get(c.server_id)!, explain));
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
