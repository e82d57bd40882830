/**
 * Shared setup for the transfer tests: SSH targets for sshd fixtures, a pool whose
 * servers can be changed at runtime, and a polling helper.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryHostKeyStore } from '../../controller/transfer/host-key.js';
import { SessionTransfer } from '../../controller/transfer/session-transfer.js';
import { SshPool } from '../../controller/transfer/ssh-pool.js';
import type { SshTarget } from '../../controller/transfer/types.js';
import type { SshdFixture } from '../helpers/sshd.js';

/** An SSH target pointing at a fixture, with key auth and no pinned host key. */
export function targetFor(fx: SshdFixture, serverId: string, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    server_id: serverId,
    host: fx.host,
    port: fx.port,
    user: fx.user,
    password: null,
    private_key_path: fx.privateKeyPath,
    host_key: null,
    sessions_dir: join(fx.deployDir, 'sessions'),
    ...overrides,
  };
}

/** A pool, its transfer layer, the host key store and the mutable server map behind them. */
export interface Rig {
  servers: Map<string, SshTarget>;
  hostKeys: MemoryHostKeyStore;
  pool: SshPool;
  transfer: SessionTransfer;
  close(): Promise<void>;
}

/** Builds a {@link Rig} over the given targets. */
export function rig(targets: SshTarget[], opts: { connectTimeoutMs?: number; timeoutMs?: number } = {}): Rig {
  const servers = new Map(targets.map((t) => [t.server_id, t]));
  const hostKeys = new MemoryHostKeyStore();
  const pool = new SshPool({ servers: (id) => servers.get(id), hostKeys, connectTimeoutMs: opts.connectTimeoutMs ?? 5000 });
  const transfer = new SessionTransfer({ pool, defaultTimeoutMs: opts.timeoutMs ?? 10_000 });
  return {
    servers, hostKeys, pool, transfer,
    close: async () => {
      await transfer.whenIdle();
      await pool.close();
    },
  };
}

/** Files in a directory (empty when it does not exist). */
export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Polls `cond` until it holds or `timeoutMs` passes (then throws). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `fn` and returns what it threw (fails when it did not throw). */
export async function rejection(fn: () => Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}
