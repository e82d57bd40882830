/**
 * The end-to-end baseline's SSH "pool": a fresh SSH connection (TCP, key exchange,
 * public-key auth, SFTP channel) for every use, closed right after — what the old
 * system did for each upload. Same interface as `SshPool.use`/`discard`, so the real
 * `SessionTransfer` runs its usual `.part` write, fsync and rename over it.
 * Bench-only; never used by the controller itself.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ConnectConfig } from 'ssh2';
import { BerthError } from '../../shared/errors.js';
import { sendPromptly, type SshSession } from '../../controller/transfer/ssh-pool.js';
import { hostKeyFingerprint, normalizeFingerprint } from '../../controller/transfer/host-key.js';
import type { SshTarget } from '../../controller/transfer/types.js';

/** Options of a {@link FreshConnectionPool}. */
export interface FreshConnectionPoolOptions {
  /** The SSH target of a server (the controller's config entry). */
  readonly servers: (serverId: string) => SshTarget | undefined;
  /** @defaultValue 10000 */
  readonly connectTimeoutMs?: number;
}

/** Opens a new SSH connection for every {@link FreshConnectionPool.use}. */
export class FreshConnectionPool {
  #nextId = 1;
  #handshakes = 0;
  readonly #open = new Map<number, Client>();

  constructor(private readonly options: FreshConnectionPoolOptions) {}

  /** Handshakes completed so far. */
  handshakes(): number {
    return this.#handshakes;
  }

  /** Connects, runs `fn` on a new SFTP channel, then closes the connection. */
  async use<T>(serverId: string, fn: (session: SshSession) => Promise<T>): Promise<T> {
    const target = this.options.servers(serverId);
    if (!target) throw new BerthError('SERVER_NOT_FOUND', `unknown server ${serverId}`, { server_id: serverId });
    const client = new Client();
    sendPromptly(client); // as the pool does: the baseline differs only in connecting per upload
    const id = this.#nextId++;
    this.#open.set(id, client);
    try {
      const sftp = await this.#connect(client, target);
      this.#handshakes++;
      return await fn({ target, sftp, connectionId: id });
    } finally {
      this.#open.delete(id);
      client.end();
    }
  }

  /** Ends the connection a timed-out transfer used. */
  discard(_serverId: string, connectionId?: number): void {
    if (connectionId !== undefined) this.#open.get(connectionId)?.end();
  }

  async #connect(client: Client, target: SshTarget): Promise<SshSession['sftp']> {
    const config: ConnectConfig = {
      host: target.host, port: target.port, username: target.user,
      readyTimeout: this.options.connectTimeoutMs ?? 10_000, tryKeyboard: false,
      hostVerifier: (key: Buffer) => target.host_key === null || normalizeFingerprint(target.host_key) === hostKeyFingerprint(key),
    };
    if (target.private_key_path) config.privateKey = await readFile(target.private_key_path);
    if (target.password !== null) config.password = target.password;
    return new Promise((resolve, reject) => {
      client.once('error', (e) => reject(new BerthError('SSH_UNREACHABLE', `cannot reach server ${target.server_id}: ${e.message}`, { server_id: target.server_id })));
      client.once('ready', () => client.sftp((e, sftp) => (e ? reject(e) : resolve(sftp))));
      client.connect(config);
    });
  }
}
