/**
 * Running a command on a worker over an open ssh2 connection, for the CLI's remote
 * steps (install-agent). Output is collected; a deadline bounds the whole run.
 */
import type { Client } from 'ssh2';
import { BerthError } from '../../shared/errors.js';

/** What a remote command printed and how it ended. */
export interface RemoteResult {
  /** Exit status, or null when it ended by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Quotes a value for a POSIX shell: `'…'` with embedded quotes escaped. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `command` (a shell command line) on the server and resolves once it exits.
 * Throws BerthError TIMEOUT after `timeoutMs`, SSH_UNREACHABLE when the channel cannot open.
 */
export function execRemote(client: Client, command: string, options: { timeoutMs: number; serverId: string }): Promise<RemoteResult> {
  const { timeoutMs, serverId } = options;
  return new Promise<RemoteResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      fn();
    };
    const guard = setTimeout(() => finish(() => reject(new BerthError('TIMEOUT', `remote command on server ${serverId} took longer than ${timeoutMs} ms`, { server_id: serverId, timeout_ms: timeoutMs }))), timeoutMs);
    client.exec(command, (err, stream) => {
      if (err) {
        finish(() => reject(new BerthError('SSH_UNREACHABLE', `server ${serverId} refused to run a command: ${err.message}`, { server_id: serverId }, { cause: err })));
        return;
      }
      let code: number | null = null;
      stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      stream.on('exit', (c: number | null) => (code = c));
      stream.on('close', () => finish(() => resolve({ code, stdout, stderr })));
      if (done) stream.close();
    });
  });
}
