/**
 * The agent's logger: one JSON object a line on stdout, in pino's format (numeric
 * `level`, ISO `time`, `pid`, `name`, the fields, `msg`), with {@link SECRET_KEYS}
 * redacted at any depth. The controller logs with pino itself (shared/log.ts); the agent
 * writes these few lines by hand because pino and the worker-thread machinery it loads
 * cost the agent about 3 MB of its 50 MB budget (bench/RESULTS.md, agent footprint).
 *
 * Lines are written synchronously, as pino's default destination does, so the last line
 * before an exit is never lost. Where it differs from pino: a bigint is written as a
 * string, and fields JSON cannot encode (a cycle) are replaced by `log_error` instead of
 * being kept with `[Circular]` marks.
 */
import { writeSync } from 'node:fs';

/** Keys whose values never reach a log line, at whatever depth they appear. */
export const SECRET_KEYS: readonly string[] = Object.freeze([
  'token', 'password', 'private_key', 'private_key_path', 'passphrase', 'agent_token',
  'authorization', 'api_tokens', 'session_base64', 'session', 'bytes', 'secret',
]);

/** What a redacted value is replaced with. */
export const CENSOR = '[redacted]';

/** pino's level numbers. */
const LEVELS = Object.freeze({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity });
type LevelName = keyof typeof LEVELS;

/** One logging method: `(fields, message)` or `(message)`, as pino's. */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/** The part of a logger the agent uses; pino's `Logger` has it too. */
export interface LineLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** Calls `callback` once every line so far is written. */
  flush(callback?: (err?: Error) => void): void;
}

/** Where lines go: a function taking one complete line (with its newline). */
export type LineSink = (line: string) => void;

const secret: ReadonlySet<string> = new Set(SECRET_KEYS);

/** Whether a field of this name is censored in log lines (shared/log.ts asks too). */
export function isSecretKey(key: string): boolean {
  return secret.has(key);
}

/** JSON.stringify replacer: secrets censored, errors as pino's `err` serializer shows them. */
function replacer(this: unknown, key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key)) return CENSOR;
  if (value instanceof Error) {
    const shown: Record<string, unknown> = { type: value.constructor?.name ?? 'Error', message: value.message, stack: value.stack };
    for (const [k, v] of Object.entries(value)) if (!(k in shown)) shown[k] = v;
    return shown;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Writes to file descriptor `fd` (stdout). The agent never touches `process.stdout`, so
 * a journald socket or a pipe it inherited stays blocking and a write waits for the
 * reader, as pino's synchronous destination does. On a non-blocking descriptor that is
 * full (EAGAIN) it retries for about a second, then drops the rest of the line; the next
 * line then starts on a fresh line so the torn one cannot corrupt it. Other write
 * errors (EPIPE: the reader is gone) drop the line.
 */
export function stdoutSink(fd = 1): LineSink {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let torn = false;
  return (line) => {
    let buf = Buffer.from(torn ? `\n${line}` : line);
    const size = buf.length;
    torn = false;
    for (let tries = 0; buf.length > 0; ) {
      try {
        buf = buf.subarray(writeSync(fd, buf));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 100) {
          torn = buf.length < size;
          return;
        }
        Atomics.wait(pause, 0, 0, 10);
      }
    }
  };
}

/** Creates a logger named `name` that writes lines at `level` and above to `sink` (stdout). */
export function createLineLogger(options: { name: string; level?: string }, sink: LineSink = stdoutSink()): LineLogger {
  const threshold = LEVELS[(options.level ?? 'info') as LevelName] ?? LEVELS.info;
  const head = `,"pid":${process.pid},"name":${JSON.stringify(options.name)}`;
  const method = (level: number): LogFn => {
    if (level < threshold) return () => {};
    return (first: object | string, message?: string) => {
      const fields = typeof first === 'string' ? null : first instanceof Error ? { err: first } : first;
      // As pino: a bare error's line says its message.
      const msg = typeof first === 'string' ? first : message ?? (first instanceof Error ? first.message : undefined);
      let body = '';
      try {
        body = fields ? JSON.stringify(fields, replacer).slice(1, -1) : '';
      } catch {
        body = '"log_error":"fields not serialisable"';
      }
      const tail = msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`;
      sink(`{"level":${level},"time":"${new Date().toISOString()}"${head}${body ? `,${body}` : ''}${tail}}\n`);
    };
  };
  return {
    trace: method(LEVELS.trace),
    debug: method(LEVELS.debug),
    info: method(LEVELS.info),
    warn: method(LEVELS.warn),
    error: method(LEVELS.error),
    fatal: method(LEVELS.fatal),
    flush(callback) {
      if (callback) process.nextTick(callback);
    },
  };
}
