/**
 * Maps every failure to the SPEC's error shape `{"error": {code, message, details}}`.
 * Client mistakes get 4xx with a code; only real faults are 500, and never echo input.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { BerthError, ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

/** The body of every error answer (SPEC §5). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Record<string, unknown> };
}

/** An error answer: its status and body. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
}

/** The answer for `code`. */
export function errorAnswer(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorAnswer {
  return { status: ERROR_STATUS[code], body: { error: { code, message, details: details ?? {} } } };
}

/** Sends an error answer. */
export function sendError(res: Response, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  const a = errorAnswer(code, message, details);
  res.status(a.status).json(a.body);
}

/** 404 for unknown routes. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, 'NOT_FOUND', `no route for ${req.method} ${req.path}`);
};

/** What the request body reader's failure (body-parser's error types) answers; null for none of them. */
function bodyErrorAnswer(e: unknown): ErrorAnswer | null {
  const type = (e as { type?: string } | null)?.type;
  if (type === 'entity.too.large') return errorAnswer('PAYLOAD_TOO_LARGE', 'request body is too large', { limit: (e as { limit?: number }).limit });
  if (type === 'entity.parse.failed') return errorAnswer('INVALID_REQUEST', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return errorAnswer('INVALID_REQUEST', 'unsupported body encoding');
  return null;
}

/**
 * The answer for anything a request handler threw: a BerthError's own, a body reader's,
 * 400 for other client errors, else 500 (logged, never echoing input). Null when the
 * client went away and nothing is to be sent.
 */
export function failureAnswer(e: unknown, logger: Logger, request: { method?: string | undefined; path: string }): ErrorAnswer | null {
  if (e instanceof BerthError) return errorAnswer(e.code, e.message, e.details);
  const body = bodyErrorAnswer(e);
  if (body) return body;
  if ((e as { type?: string } | null)?.type === 'request.aborted') return null;
  const status = (e as { status?: number } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return errorAnswer('INVALID_REQUEST', 'bad request');
  logger.error({ err: e, method: request.method, path: request.path }, 'request failed');
  return errorAnswer('INTERNAL', 'internal error');
}

/** The last middleware: turns thrown errors into answers. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (e, req, res, _next) => {
    if (res.headersSent) return;
    const a = failureAnswer(e, logger, { method: req.method, path: req.path });
    if (a) res.status(a.status).json(a.body);
  };
}
