/**
 * The controller's logging: one JSON object a line (pino; the agent's lighter logger,
 * same format and secret keys, is shared/line-logger.ts). Fields that may hold secrets are redacted
 * wherever they appear, so a careless `log.info({ config })` cannot leak them.
 *
 * Redaction is a walk over the fields that copies only what holds a secret: the fields
 * of nearly every line are passed to pino untouched. With pino's own `redact` option
 * and wildcard paths a line cost 19.5 µs, with the walk 2.4 µs (pino alone 1.8 µs;
 * bench/RESULTS.md), on the event loop of the controller, which logs once per
 * allocation.
 */
import { pino, stdSerializers, type Logger, type DestinationStream } from 'pino';
import { CENSOR, SECRET_KEYS, isSecretKey } from './line-logger.js';

export type { Logger };
export { SECRET_KEYS };

/** How deep the walk looks for secrets (a field of a field of …); deeper values are dropped. */
const MAX_DEPTH = 8;

/** What replaces a value nested deeper than {@link MAX_DEPTH} (it could hide a secret). */
const TOO_DEEP = '[too deep]';

/** What replaces an object met again on the way down (as pino's stringify writes it). */
const CIRCULAR = '[Circular]';

/** What a line's fields become when they cannot even be walked (a throwing getter, a revoked Proxy). */
const UNLOGGABLE = Object.freeze({ log_error: 'the fields of this line could not be read' });

/**
 * A writable copy of `value` with the same prototype (an Error stays an Error): each own
 * property becomes a plain value, so a frozen object, a read-only property or a getter
 * can be censored in the copy.
 */
function writableCopy(value: object): Record<string, unknown> {
  if (Array.isArray(value)) return value.slice() as unknown as Record<string, unknown>;
  const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(value)) {
    const enumerable = Object.prototype.propertyIsEnumerable.call(value, key);
    Object.defineProperty(copy, key, { value: (value as Record<string, unknown>)[key], writable: true, enumerable, configurable: true });
  }
  return copy;
}

/** Values whose keys are not fields: binary data, dates, collections, patterns. */
function isOpaque(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof Map || value instanceof Set || value instanceof RegExp;
}

function walk(value: unknown, depth: number, above: Set<object>): unknown {
  if (typeof value !== 'object' || value === null || isOpaque(value)) return value;
  if (above.has(value)) return CIRCULAR;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  above.add(value);
  let copy: Record<string, unknown> | null = null;
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    const v = fields[key];
    const r = isSecretKey(key) ? CENSOR : walk(v, depth + 1, above);
    if (r !== v) {
      copy ??= writableCopy(value);
      copy[key] = r;
    }
  }
  above.delete(value);
  return copy ?? value;
}

/**
 * `value` with every {@link SECRET_KEYS} field censored, at any depth up to
 * {@link MAX_DEPTH}: the same object when it holds none, else a copy of the path down to
 * each secret. An object inside itself becomes `[Circular]`. Never throws: fields that
 * cannot be read become one `log_error` field instead.
 */
export function redactSecrets<T>(value: T): T {
  try {
    return walk(value, 0, new Set()) as T;
  } catch {
    return UNLOGGABLE as T;
  }
}

/** pino's error serializer, or {@link UNLOGGABLE} when the error cannot be read. */
function serializeError(e: Error): unknown {
  try {
    return stdSerializers.err(e);
  } catch {
    return UNLOGGABLE;
  }
}

/** Creates the process logger. `destination` defaults to stdout. */
export function createLogger(options: { name: string; level?: string }, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      // The fields of each line; an error's serialized form (its `cause` chain included)
      // is walked after pino's serializer made it plain.
      formatters: { log: (fields) => redactSecrets(fields) },
      serializers: { err: (e: Error) => redactSecrets(serializeError(e)) },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  // A child's bindings become text when it is made, past any formatter pino lets a
  // parent set for its children: redact them on the way in. Children inherit this method.
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  } as typeof logger.child;
  return logger;
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** What {@link afterLinesWritten} uses of pino's default destination (sonic-boom). */
interface LineStream {
  /** sonic-boom's own flag: a write is with the operating system's thread pool. */
  _writing?: boolean;
  flushSync?(): void;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Calls `done` once the lines logged so far are written, or after `timeoutMs` (stdout
 * blocked). For a process about to end other than by `process.exit`, whose exit hook
 * would have flushed them: pino writes asynchronously, and a line still queued when a
 * signal ends the process is lost.
 */
export function afterLinesWritten(logger: Logger, done: () => void, timeoutMs = 1000): void {
  const stream = (logger as unknown as Record<symbol, LineStream | undefined>)[pino.symbols.streamSym];
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    try {
      stream?.flushSync?.();
    } catch {
      // Written as far as it could be.
    }
    done();
  };
  if (stream?._writing === true) {
    stream.once('drain', finish);
    setTimeout(finish, timeoutMs);
  } else {
    finish();
  }
}
