/**
 * Logging: one JSON object a line (pino). Fields that may hold secrets are redacted
 * wherever they appear, so a careless `log.info({ config })` cannot leak them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const SECRET_KEYS = [
  'token', 'password', 'private_key', 'private_key_path', 'passphrase', 'agent_token',
  'authorization', 'api_tokens', 'session_base64', 'session', 'bytes', 'secret',
];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** Creates the process logger. `destination` defaults to stdout. */
export function createLogger(options: { name: string; level?: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: '[redacted]' },
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
