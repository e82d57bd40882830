/**
 * Maps every failure to the SPEC's error shape `{"error": {code, message, details}}`.
 * Client mistakes get 4xx with a code; only real faults are 500, and never echo input.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { BerthError, ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

/** Sends an error answer. */
export function sendError(res: Response, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  res.status(ERROR_STATUS[code]).json({ error: { code, message, details: details ?? {} } });
}

/** 404 for unknown routes. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, 'NOT_FOUND', `no route for ${req.method} ${req.path}`);
};

/** The last middleware: turns thrown errors into answers. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (e, req, res, _next) => {
    if (res.headersSent) return;
    if (e instanceof BerthError) return sendError(res, e.code, e.message, e.details);
    const type = (e as { type?: string }).type;
    if (type === 'entity.too.large') return sendError(res, 'PAYLOAD_TOO_LARGE', 'request body is too large', { limit: (e as { limit?: number }).limit });
    if (type === 'entity.parse.failed') return sendError(res, 'INVALID_REQUEST', 'request body is not valid JSON');
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return sendError(res, 'INVALID_REQUEST', 'unsupported body encoding');
    if (type === 'request.aborted') return;
    const status = (e as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, 'INVALID_REQUEST', 'bad request');
    logger.error({ err: e, method: req.method, path: req.path }, 'request failed');
    sendError(res, 'INTERNAL', 'internal error');
  };
}
