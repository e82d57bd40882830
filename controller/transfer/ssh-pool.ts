/**
 * One pooled SSH connection (and its SFTP channel) per server: opened lazily, shared by
 * every transfer to that server, dropped on error or close and opened again on next use.
 * A server whose target (host, port, user, credentials, pinned key) changes at runtime
 * gets a new connection; the old one ends once its transfers in flight finish.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { BerthError, isBerthError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { hostKeyFingerprint, normalizeFingerprint } from './host-key.js';
import type { HostKeyStore, SshTarget } from './types.js';

/** Options of an {@link SshPool}. */
export interface SshPoolOptions {
  /** The current SSH target of a server, or undefined when the server is unknown. Called on every use. */
  readonly servers: (serverId: string) => SshTarget | undefined;
  /** Where first-use host keys are recorded and looked up. */
  readonly hostKeys: HostKeyStore;
  /** Bound on TCP connect + handshake + auth + opening SFTP. @defaultValue 10000 */
  readonly connectTimeoutMs?: number;
  /** SSH keepalive interval; three missed answers drop the connection. @defaultValue 15000 */
  readonly keepaliveIntervalMs?: number;
  /** @defaultValue a silent logger */
  readonly logger?: Logger;
}

/** What a transfer gets while it uses a pooled connection. */
export interface SshSession {
  /** The server's target as it is now (its `sessions_dir` is the one to use). */
  readonly target: SshTarget;
  /** The connection's SFTP channel. */
  readonly sftp: SFTPWrapper;
  /** The SSH client itself, for commands (`exec`) beside SFTP, e.g. `install-agent`. Set by {@link SshPool}. */
  readonly client?: Client;
  /** Identifies the connection, for {@link SshPool.discard}. */
  readonly connectionId: number;
}

interface Connection {
  readonly id: number;
  readonly client: Client;
  readonly sftp: SFTPWrapper;
  inFlight: number;
  retired: boolean;
  closed: Promise<void>;
}

interface Entry {
  readonly key: string;
  readonly ready: Promise<Connection>;
  conn?: Connection;
}

/**
 * Turns off Nagle's algorithm on the client's socket once it connects (ssh2 leaves it
 * on). Uploads to a server share one connection, so a small request (the next upload's
 * open) often follows a batch the server has not acknowledged yet; with Nagle the kernel
 * holds it until that ACK, which Linux delays by up to 40 ms. Measured in
 * bench/allocations.ts: 16 uploads in flight to 4 servers, upload p50 51 → 11 ms and
 * allocations/s doubled (bench/RESULTS.md). The socket also gets {@link coalesceWrites},
 * which is what puts a batch of SFTP requests into one system call.
 */
export function sendPromptly(client: Client): void {
  client.once('connect', () => {
    client.setNoDelay(true);
    const sock = (client as unknown as { _sock?: unknown })._sock;
    if (sock instanceof Socket) coalesceWrites(sock);
  });
}

/**
 * Makes the packets ssh2 writes while one answer's promise jobs run leave in one system
 * call. ssh2 writes each packet on its own; uploads sharing a connection get their
 * answers together (one read from the server) and each answer's continuation sends the
 * next requests, so without this every upload's requests cost a system call of their
 * own, and on loopback each one also wakes the server. The socket is corked at a write
 * and uncorked by `process.nextTick`, which Node runs once the microtask queue has
 * drained when the write came from a promise job (the uploads' continuations), but
 * before the promise jobs when it came straight from an I/O callback (ssh2 answering
 * while it parses), so those go out at once. Deferring the uncork further (a microtask
 * queueing the tick, or `setImmediate`) measured slower in bench/allocations.ts.
 */
export function coalesceWrites(sock: Socket): void {
  let corked = false;
  const flush = (): void => {
    corked = false;
    sock.uncork();
  };
  const write = sock.write;
  sock.write = function coalescedWrite(this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(flush);
    }
    return write.apply(this, args as never);
  } as Socket['write'];
}

/**
 * Whether ssh2 runs its ciphers in its native binding (built by its install script with
 * node-gyp) rather than through node's crypto objects, one per packet. Measured in
 * bench/allocations.ts: about 0.2 ms less controller CPU per allocation, 10 % more
 * allocations/s. Without a compiler the install falls back, and so does ssh2.
 */
export function sshNativeCrypto(): boolean {
  try {
    createRequire(import.meta.url)('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');
    return true;
  } catch {
    return false;
  }
}

/** A pool of SSH connections, one per server. */
export class SshPool {
  readonly #opts: Required<Omit<SshPoolOptions, 'logger'>> & { logger: Logger };
  readonly #entries = new Map<string, Entry>();
  readonly #live = new Set<Connection>();
  readonly #handshakes = new Map<string, number>();
  readonly #connecting = new Set<(e: BerthError) => void>();
  #nextId = 1;
  #closed = false;

  constructor(options: SshPoolOptions) {
    this.#opts = Object.freeze({
      servers: options.servers,
      hostKeys: options.hostKeys,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
      logger: options.logger ?? silentLogger(),
    });
  }

  /**
   * Runs `fn` with the server's pooled SFTP channel, connecting first when needed.
   * Throws BerthError: SERVER_NOT_FOUND, SHUTTING_DOWN, TIMEOUT (connect took longer than
   * `connectTimeoutMs`), HOST_KEY_MISMATCH, SSH_UNREACHABLE (refused, auth failed, closed);
   * whatever `fn` throws passes through.
   */
  async use<T>(serverId: string, fn: (session: SshSession) => Promise<T>): Promise<T> {
    if (this.#closed) throw new BerthError('SHUTTING_DOWN', 'the SSH pool is closed');
    const target = this.#opts.servers(serverId);
    if (!target) throw new BerthError('SERVER_NOT_FOUND', `unknown server ${serverId}`, { server_id: serverId });
    const key = targetKey(target);
    let entry = this.#entries.get(serverId);
    if (entry && entry.key !== key) {
      this.#opts.logger.info({ server_id: serverId }, 'ssh target changed; replacing pooled connection');
      this.#retire(serverId, entry);
      entry = undefined;
    }
    if (!entry) entry = this.#open(serverId, target, key);
    const conn = await entry.ready;
    if (this.#closed) throw new BerthError('SHUTTING_DOWN', 'the SSH pool is closed');
    conn.inFlight++;
    try {
      return await fn({ target, sftp: conn.sftp, client: conn.client, connectionId: conn.id });
    } finally {
      conn.inFlight--;
      if (conn.retired && conn.inFlight === 0) conn.client.end();
    }
  }

  /**
   * Ends the server's pooled connection now (transfers on it fail), e.g. after a transfer
   * timed out on a connection that stopped answering. With `connectionId`, only that
   * connection is ended, so a fresh one opened meanwhile survives.
   */
  discard(serverId: string, connectionId?: number): void {
    const entry = this.#entries.get(serverId);
    if (!entry?.conn || (connectionId !== undefined && entry.conn.id !== connectionId)) return;
    this.#entries.delete(serverId);
    entry.conn.retired = true;
    entry.conn.client.end();
  }

  /**
   * Retires connections whose server vanished from the config or whose target changed;
   * call after a config reload. (Each use also checks its own server.)
   */
  reconcile(): void {
    for (const [serverId, entry] of [...this.#entries]) {
      const target = this.#opts.servers(serverId);
      if (!target || targetKey(target) !== entry.key) this.#retire(serverId, entry);
    }
  }

  /** How many SSH handshakes have completed for the server (or all servers) since the pool started. */
  handshakes(serverId?: string): number {
    if (serverId !== undefined) return this.#handshakes.get(serverId) ?? 0;
    let n = 0;
    for (const v of this.#handshakes.values()) n += v;
    return n;
  }

  /** True when the server has an open pooled connection. */
  isConnected(serverId: string): boolean {
    return this.#entries.get(serverId)?.conn !== undefined;
  }

  /** Ends every connection and refuses further use; resolves once they are closed (at most ~2 s). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const abort of [...this.#connecting]) abort(new BerthError('SHUTTING_DOWN', 'the SSH pool is closed'));
    this.#entries.clear();
    const closing = [...this.#live].map((c) => {
      c.client.end();
      return c.closed;
    });
    await Promise.race([Promise.all(closing), delay(2000)]);
  }

  #retire(serverId: string, entry: Entry): void {
    if (this.#entries.get(serverId) === entry) this.#entries.delete(serverId);
    void entry.ready.then(
      (conn) => {
        conn.retired = true;
        if (conn.inFlight === 0) conn.client.end();
      },
      () => undefined,
    );
  }

  #open(serverId: string, target: SshTarget, key: string): Entry {
    const ready = this.#connect(target);
    const entry: Entry = { key, ready };
    this.#entries.set(serverId, entry);
    ready.then(
      (conn) => {
        entry.conn = conn;
        void conn.closed.then(() => {
          if (this.#entries.get(serverId) === entry) this.#entries.delete(serverId);
        });
        if (this.#closed) conn.client.end();
      },
      () => {
        if (this.#entries.get(serverId) === entry) this.#entries.delete(serverId);
      },
    );
    return entry;
  }

  async #connect(target: SshTarget): Promise<Connection> {
    const { logger, connectTimeoutMs } = this.#opts;
    const serverId = target.server_id;
    let privateKey: Buffer | undefined;
    if (target.private_key_path) {
      try {
        privateKey = await readFile(target.private_key_path);
      } catch (e) {
        throw new BerthError('SSH_UNREACHABLE', `cannot read the private key file of server ${serverId}`, {
          server_id: serverId,
          reason: (e as NodeJS.ErrnoException).code ?? 'read failed',
        });
      }
    }
    if (this.#closed) throw new BerthError('SHUTTING_DOWN', 'the SSH pool is closed');
    const client = new Client();
    sendPromptly(client);
    let verdict: BerthError | undefined;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: connectTimeoutMs,
      keepaliveInterval: this.#opts.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      tryKeyboard: false,
      hostVerifier: (keyBlob: Buffer, verify: (ok: boolean) => void) => {
        this.#verifyHostKey(target, keyBlob).then(
          () => verify(true),
          (e: unknown) => {
            verdict = isBerthError(e)
              ? e
              : new BerthError('SSH_UNREACHABLE', `host key store failed for server ${serverId}`, { server_id: serverId }, { cause: e });
            verify(false);
          },
        );
      },
    };
    if (target.password !== null) config.password = target.password;
    if (privateKey) config.privateKey = privateKey;

    const id = this.#nextId++;
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const fail = (e: BerthError): void => {
        if (settled) return;
        settled = true;
        this.#connecting.delete(fail);
        clearTimeout(guard);
        client.end();
        client.destroy();
        logger.warn({ server_id: serverId, code: e.code, err_message: e.message }, 'ssh connect failed');
        reject(e);
      };
      // ssh2's readyTimeout covers the handshake; this guard also covers opening SFTP.
      const guard = setTimeout(
        () => fail(new BerthError('TIMEOUT', `ssh connect to server ${serverId} timed out`, { server_id: serverId, timeout_ms: connectTimeoutMs })),
        connectTimeoutMs,
      );
      client.on('error', (e: Error & { level?: string; code?: string }) => {
        if (!settled) fail(verdict ?? mapConnectError(serverId, e, connectTimeoutMs));
        else logger.warn({ server_id: serverId, err_message: e.message }, 'pooled ssh connection failed');
      });
      const closed = new Promise<void>((res) => client.once('close', () => res()));
      void closed.then(() => {
        if (!settled) fail(verdict ?? new BerthError('SSH_UNREACHABLE', `server ${serverId} closed the ssh connection`, { server_id: serverId }));
      });
      client.once('ready', () => {
        client.sftp((e, sftp) => {
          if (settled) return;
          if (e) {
            fail(new BerthError('SSH_UNREACHABLE', `server ${serverId} refused the sftp subsystem`, { server_id: serverId }, { cause: e }));
            return;
          }
          settled = true;
          this.#connecting.delete(fail);
          clearTimeout(guard);
          this.#handshakes.set(serverId, (this.#handshakes.get(serverId) ?? 0) + 1);
          const conn: Connection = { id, client, sftp, inFlight: 0, retired: false, closed };
          this.#live.add(conn);
          sftp.once('close', () => client.end());
          void closed.then(() => {
            this.#live.delete(conn);
            logger.info({ server_id: serverId, connection_id: id }, 'ssh connection closed');
          });
          logger.info({ server_id: serverId, host: target.host, port: target.port, connection_id: id }, 'ssh connection ready');
          resolve(conn);
        });
      });
      this.#connecting.add(fail);
      client.connect(config);
    });
  }

  async #verifyHostKey(target: SshTarget, keyBlob: Buffer): Promise<void> {
    const serverId = target.server_id;
    const seen = hostKeyFingerprint(keyBlob);
    const mismatch = (expected: string, source: 'pinned' | 'recorded'): BerthError =>
      new BerthError('HOST_KEY_MISMATCH', `host key of server ${serverId} does not match the ${source} key`, {
        server_id: serverId,
        expected,
        actual: seen,
      });
    if (target.host_key) {
      const pinned = normalizeFingerprint(target.host_key);
      if (pinned !== seen) throw mismatch(pinned, 'pinned');
      return;
    }
    const known = await this.#opts.hostKeys.get(serverId);
    if (known === null) {
      await this.#opts.hostKeys.record(serverId, seen);
      this.#opts.logger.info({ server_id: serverId, host_key: seen }, 'recorded host key on first use');
      return;
    }
    if (normalizeFingerprint(known) !== seen) throw mismatch(normalizeFingerprint(known), 'recorded');
  }
}

function mapConnectError(serverId: string, e: Error & { level?: string; code?: string }, timeoutMs: number): BerthError {
  if (e.level === 'client-timeout') {
    return new BerthError('TIMEOUT', `ssh connect to server ${serverId} timed out`, { server_id: serverId, timeout_ms: timeoutMs });
  }
  const reason = e.level === 'client-authentication' ? 'authentication failed' : (e.code ?? e.message);
  return new BerthError('SSH_UNREACHABLE', `cannot reach server ${serverId} over ssh: ${reason}`, { server_id: serverId, reason }, { cause: e });
}

/** A digest of the fields that need a new connection when they change (not `sessions_dir`). */
function targetKey(t: SshTarget): string {
  return createHash('sha256')
    .update(JSON.stringify([t.host, t.port, t.user, t.password, t.private_key_path, t.host_key]))
    .digest('hex');
}

function delay(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms).unref());
}
