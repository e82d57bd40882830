/** GET /servers, GET /servers/{id}, and the cordon / uncordon / drain actions. */
import { Router } from 'express';
import { BerthError } from '../../../shared/errors.js';
import { serverJson } from '../../fleet/server-view-json.js';
import type { ApiContext } from '../context.js';

/** Routes of the servers resource. */
export function serversRoutes(ctx: ApiContext): Router {
  const r = Router();
  const find = (id: string) => {
    const s = ctx.fleet.get(id);
    if (!s) throw new BerthError('SERVER_NOT_FOUND', `server ${id} is not configured`, { server_id: id });
    return s;
  };

  r.get('/servers', (_req, res) => {
    res.json({ servers: ctx.fleet.servers.map((s) => serverJson(s, { withAccounts: true })) });
  });

  r.get('/servers/:id', (req, res) => {
    res.json(serverJson(find(req.params.id), { withAccounts: true }));
  });

  r.post('/servers/:id/cordon', async (req, res) => {
    const s = find(req.params.id);
    await ctx.operations.setServerStatus(s.server_id, 'disabled', `cordoned by ${String(res.locals.tokenName)}`);
    res.json(serverJson(s, { withAccounts: true }));
  });

  r.post('/servers/:id/uncordon', async (req, res) => {
    const s = find(req.params.id);
    await ctx.operations.setServerStatus(s.server_id, null, `uncordoned by ${String(res.locals.tokenName)}`);
    res.json(serverJson(s, { withAccounts: true }));
  });

  r.post('/servers/:id/drain', async (req, res) => {
    const s = find(req.params.id);
    const result = await ctx.operations.drain(s.server_id);
    res.json({ server: serverJson(s, { withAccounts: true }), ...result });
  });

  return r;
}
