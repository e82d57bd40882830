/**
 * Shapes the transfer layer shares with the rest of the controller: where a server's
 * SSH endpoint is, and where its pinned or first-seen host key lives.
 */

/**
 * Everything needed to reach one worker over SSH and find its session directory.
 * Built by the controller from `servers.<id>` in the config (SPEC §2).
 */
export interface SshTarget {
  /** The server's id (its key in `servers`). */
  readonly server_id: string;
  readonly host: string;
  /** @defaultValue 22 (resolved by whoever builds the target). */
  readonly port: number;
  readonly user: string;
  /** Password for password auth, or null. Never logged. */
  readonly password: string | null;
  /** Path of a private key file on the controller, read at connect time, or null. */
  readonly private_key_path: string | null;
  /** Pinned OpenSSH `SHA256:` fingerprint of the host key, or null to trust on first use. */
  readonly host_key: string | null;
  /** Absolute remote session directory: `<deploy_dir>/sessions`. */
  readonly sessions_dir: string;
}

/**
 * Where host key fingerprints seen on first use are kept (SPEC §2: "the first key seen
 * is recorded and any later different key is refused"). The store implements it on
 * SQLite; {@link MemoryHostKeyStore} serves tests and tools.
 */
export interface HostKeyStore {
  /** The recorded `SHA256:` fingerprint for the server, or null when none was recorded. */
  get(serverId: string): Promise<string | null>;
  /** Records the fingerprint seen on first use. */
  record(serverId: string, fingerprint: string): Promise<void>;
}

/** What `SessionTransfer.fenceAndCollect` took off the worker. */
export interface CollectResult {
  /** The worker's copy, or null when it had none. */
  readonly bytes: Buffer | null;
  /** Where the bytes came from: the live file, the newest copy in `.fenced/`, or nowhere. */
  readonly source: 'live' | 'fenced' | 'none';
}
