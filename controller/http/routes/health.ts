/** GET /healthz (no auth) and GET /metrics. */
import { Router } from 'express';
import type { ApiContext } from '../context.js';

/** Liveness without authentication. */
export function healthRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    const dbOk = await ctx.store.ping();
    const servers = ctx.fleet.servers;
    res.status(dbOk ? 200 : 503).json({
      status: dbOk ? 'ok' : 'degraded',
      database: dbOk ? 'ok' : 'unavailable',
      agents_connected: ctx.hub.connectedCount,
      servers: servers.length,
      servers_healthy: servers.filter((s) => s.healthy).length,
      uptime_s: Math.round(process.uptime()),
    });
  });
  return r;
}

/** Prometheus text (behind auth). */
export function metricsRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/metrics', async (_req, res) => {
    res.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
  });
  return r;
}
