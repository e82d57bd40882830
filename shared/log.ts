/**
 * The controller's logging: one JSON object a line (pino; the agent's lighter logger,
 * same format and secret keys, is shared/line-logger.ts). Fields that may hold secrets are redacted
 * wherever they appear, so a careless `log.info({ config })` cannot leak them.
 *
 * Redaction is a walk over the fields that copies only what holds a secret: the fields
 * of nearly every line are passed to pino untouched. pino's own `redact` option with
 * wildcard paths cost about 18 µs a line (bench/RESULTS.md), on the event loop of the
 * controller, which logs once per allocation; this costs about 1 µs.
 */
import { pino, stdSerializers, type Logger, type DestinationStream } from 'pino';
import { CENSOR, SECRET_KEYS } from './line-logger.js';

export type { Logger };
export { SECRET_KEYS };

const secret: ReadonlySet<string> = new Set(SECRET_KEYS);

/** How deep the walk looks for secrets (a field of a field of …); deeper values are dropped. */
const MAX_DEPTH = 8;

/** What replaces a value nested deeper than {@link MAX_DEPTH} (it could hide a secret). */
const TOO_DEEP = '[too deep]';

/** A copy of `value` with the same prototype and own properties (an Error stays an Error). */
function shallowCopy(value: object): Record<string, unknown> {
  if (Array.isArray(value)) return value.slice() as unknown as Record<string, unknown>;
  return Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Record<string, unknown>;
}

/** Values whose keys are not fields: binary data, dates, collections, patterns. */
function isOpaque(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof Map || value instanceof Set || value instanceof RegExp;
}

/**
 * `value` with every {@link SECRET_KEYS} field censored, at any depth up to
 * {@link MAX_DEPTH}: the same object when it holds none, else a copy of the path down to
 * each secret. Cycles end at the depth limit.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (typeof value !== 'object' || value === null || isOpaque(value)) return value;
  if (depth >= MAX_DEPTH) return TOO_DEEP as T;
  let copy: Record<string, unknown> | null = null;
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    const v = fields[key];
    const r = secret.has(key) ? CENSOR : redactSecrets(v, depth + 1);
    if (r !== v) {
      copy ??= shallowCopy(value);
      copy[key] = r;
    }
  }
  return (copy ?? value) as T;
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
      serializers: { err: (e: Error) => redactSecrets(stdSerializers.err(e)) },
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
