/**
 * The controller's logging: one JSON object a line (pino; the agent's lighter logger,
 * same format and secret keys, is shared/line-logger.ts). Fields that may hold secrets are redacted
 * wherever they appear, so a careless `log.info({ config })` cannot leak them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { CENSOR, SECRET_KEYS } from './line-logger.js';

export type { Logger };
export { SECRET_KEYS };

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** Creates the process logger. `destination` defaults to stdout. */
export function createLogger(options: { name: string; level?: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: CENSOR },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
