/**
 * POST /allocation/allocate, the request made once per allocation, answered without
 * express's per-request machinery. Express gives every request and response new
 * prototypes and walks its middleware and routers; measured in the allocations benchmark
 * that cost about 0.22 ms of the event loop's 0.90 ms per allocation (bench/RESULTS.md).
 *
 * The hot path answers exactly as the express route does, with the same pieces: the
 * token check ({@link authorize}), the route's answer ({@link allocateAnswer}: body
 * schema, operation, status) and the error answers ({@link failureAnswer}). It takes only the plain case: the exact
 * path without a query, a JSON body (`application/json`, UTF-8 or no charset, no
 * `Content-Encoding` but `identity`) of known length or chunked. Every other request,
 * including every other spelling of this path, goes to express, which answers it the
 * way it always has.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../../shared/log.js';
import { API_BASE, MAX_JSON_BYTES } from './app.js';
import { authorize } from './auth.js';
import type { ApiContext } from './context.js';
import { errorAnswer, failureAnswer } from './errors.js';
import { allocateAnswer } from './routes/allocation.js';

/** Content types the hot path reads; any other goes to express (which may still accept it). */
const PLAIN_JSON = /^application\/json[ \t]*(;[ \t]*charset[ \t]*=[ \t]*"?utf-8"?[ \t]*)?$/i;

/**
 * Why a body could not be read, with body-parser's error type, so that
 * {@link failureAnswer} answers it as the express route's error handler does
 * (`request.aborted`: the client went away, nothing is answered).
 */
class BodyError extends Error {
  constructor(readonly type: 'entity.too.large' | 'entity.parse.failed' | 'request.aborted', readonly limit?: number) {
    super(type);
  }
}

/** The request listener: the hot path for its one request, express for the rest. */
export function withHotPath(app: Express, ctx: ApiContext, logger: Logger): RequestListener {
  const path = `${API_BASE}/allocation/allocate`;
  return (req, res) => {
    if (req.method !== 'POST' || req.url !== path || !isPlainJson(req)) {
      app(req, res);
      return;
    }
    try {
      allocate(req, res, ctx, logger, path);
    } catch (e) {
      answerFailure(req, res, logger, path, e);
    }
  };
}

/** Answers whatever a handler threw, as express's error handler would (500 for our own faults). */
function answerFailure(req: IncomingMessage, res: ServerResponse, logger: Logger, path: string, e: unknown): void {
  try {
    const a = failureAnswer(e, logger, { method: req.method, path });
    if (a && !res.headersSent) send(res, a.status, a.body);
  } catch {
    if (!res.headersSent) res.writeHead(500).end();
  }
}

/** True for a request whose body the hot path reads as body-parser would. */
function isPlainJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  const encoding = req.headers['content-encoding'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
  return hasBody && typeof type === 'string' && PLAIN_JSON.test(type) && (encoding === undefined || encoding.toLowerCase() === 'identity');
}

function allocate(req: IncomingMessage, res: ServerResponse, ctx: ApiContext, logger: Logger, path: string): void {
  const fail = (e: unknown): void => answerFailure(req, res, logger, path, e);
  const auth = authorize(req.headers.authorization, req.method, ctx.config().controller.api_tokens);
  if (!auth.ok) {
    const a = errorAnswer(auth.code, auth.message);
    send(res, a.status, a.body);
    return;
  }
  readJson(req, (e, body) => {
    if (e) {
      fail(e);
      return;
    }
    // A throw while sending goes to fail too, as express would answer it.
    allocateAnswer(ctx, body).then((a) => send(res, a.status, a.body)).catch(fail);
  });
}

/**
 * Reads the body as body-parser's strict JSON parser does: at most {@link MAX_JSON_BYTES}
 * (413 past it, told by `Content-Length` before reading when it says so), empty → `{}`,
 * a byte-order mark dropped, anything but an object or array at the top refused. One
 * difference in timing, not in the answer: past the limit it answers at once and lets
 * node discard the rest, where body-parser answers once the body has been read.
 */
function readJson(req: IncomingMessage, done: (e: BodyError | null, body?: unknown) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_JSON_BYTES) {
    req.resume(); // let node discard it
    done(new BodyError('entity.too.large', MAX_JSON_BYTES));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (e: BodyError | null, body?: unknown): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    done(e, body);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) {
      chunks.length = 0;
      req.resume();
      finish(new BodyError('entity.too.large', MAX_JSON_BYTES));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    let text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return finish(null, {});
    const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
    if (first !== '{' && first !== '[') return finish(new BodyError('entity.parse.failed'));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return finish(new BodyError('entity.parse.failed'));
    }
    finish(null, body);
  };
  // The request failed, or closed before the whole body came: the client went away.
  const onError = (): void => finish(new BodyError('request.aborted'));
  const onClose = (): void => {
    if (!req.complete) finish(new BodyError('request.aborted'));
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
}

/** Sends a JSON answer with the headers express's `res.json` sets. */
function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
