/**
 * The admin HTTP API (SPEC §5) under `/api/v1/group-ai`: JSON in and out, bearer
 * tokens, and every failure in the SPEC's error shape.
 */
import express, { type Express } from 'express';
import type { Logger } from '../../shared/log.js';
import { requireToken } from './auth.js';
import type { ApiContext } from './context.js';
import { errorHandler, notFound } from './errors.js';
import { accountsRoutes } from './routes/accounts.js';
import { allocationRoutes } from './routes/allocation.js';
import { healthRoutes, metricsRoutes } from './routes/health.js';
import { serversRoutes } from './routes/servers.js';

/** Base path of the admin API. */
export const API_BASE = '/api/v1/group-ai';

/** Largest JSON body (a base64 session of 10 MiB fits). */
export const MAX_JSON_BYTES = 14 * 1024 * 1024;

/** PUT /accounts/{id}/session: raw bytes whatever type the client declares (SPEC §5). */
const SESSION_UPLOAD_PATH = /^\/accounts\/[^/]+\/session\/?$/i; // routing ignores case too

/** Builds the express app. */
export function createApp(ctx: ApiContext, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const api = express.Router();
  api.use(healthRoutes(ctx));
  api.use(requireToken(() => ctx.config().controller.api_tokens));
  const json = express.json({ limit: MAX_JSON_BYTES, strict: true, type: ['application/json', 'application/*+json'] });
  api.use((req, res, next) => (req.method === 'PUT' && SESSION_UPLOAD_PATH.test(req.path) ? next() : json(req, res, next)));
  api.use(metricsRoutes(ctx));
  api.use(allocationRoutes(ctx));
  api.use(accountsRoutes(ctx));
  api.use(serversRoutes(ctx));
  app.use(API_BASE, api);
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
