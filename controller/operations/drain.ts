/** Cordon, uncordon and drain (SPEC §7): drain = cordon, then move every account away. */
import { BerthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Fleet } from '../fleet/fleet.js';
import type { ServerStatus } from '../placement/types.js';
import type { Store } from '../store/store.js';
import type { Mover } from './mover.js';
import type { DrainResult, MigrationResult } from './types.js';

/** Moves run at once during a drain. */
const DRAIN_CONCURRENCY = 4;

/** Server status changes and drains. */
export class ServerOps {
  /** The latest drain pass of each server (running or waiting for the one before it). */
  readonly #passes = new Map<string, Promise<MigrationResult[]>>();
  /** Servers whose latest pass is waiting for the running one: it will see every account. */
  readonly #waiting = new Set<string>();
  #closed = false;

  constructor(private readonly o: { fleet: Fleet; store: Store; mover: Mover; logger: Logger }) {}

  /** Sets (or clears, with null) the admin override of a server's status, durably. */
  async setStatus(serverId: string, status: ServerStatus | null, reason: string): Promise<void> {
    if (!this.o.fleet.get(serverId)) throw new BerthError('SERVER_NOT_FOUND', `server ${serverId} is not configured`);
    await this.o.store.servers.update(serverId, { status_override: status }, new Date().toISOString());
    this.o.fleet.setStatusOverride(serverId, status);
    this.o.logger.info({ server_id: serverId, status_override: status }, reason);
  }

  /**
   * Drains a server: it takes no new accounts and each of its accounts is moved away.
   * When a pass is already moving its accounts (see {@link continueDrains}), this one
   * starts after it and moves what is left.
   */
  async drain(serverId: string): Promise<DrainResult> {
    await this.setStatus(serverId, 'draining', 'drain started');
    return { migrations: await this.#pass(serverId) };
  }

  /**
   * Moves away the accounts of every healthy server whose status is `draining`: a server
   * set to `draining` in the config file, a drain a restart cut short, and accounts whose
   * drain move failed before (no eligible server, SSH down). A down server is left to
   * failover. Run every minute, after a config reload and after a server comes up.
   */
  async continueDrains(): Promise<void> {
    const passes: Promise<MigrationResult[]>[] = [];
    for (const server of this.o.fleet.servers) {
      if (server.status !== 'draining' || !server.healthy) continue;
      if (this.o.fleet.assignedTo(server.server_id).length === 0) continue;
      passes.push(this.#pass(server.server_id));
    }
    await Promise.all(passes);
  }

  /** Drain passes take no further account (the controller is stopping). */
  close(): void {
    this.#closed = true;
  }

  /**
   * The server's next pass: it starts once the running one ends (one pass at a time per
   * server); when one is already waiting, that one is returned, since it will take every
   * account still there.
   */
  #pass(serverId: string): Promise<MigrationResult[]> {
    const before = this.#passes.get(serverId);
    if (before && this.#waiting.has(serverId)) return before;
    if (before) this.#waiting.add(serverId);
    const pass: Promise<MigrationResult[]> = (before ?? Promise.resolve([]))
      .catch(() => [])
      .then(() => {
        this.#waiting.delete(serverId);
        return this.#moveAway(serverId);
      })
      .finally(() => {
        if (this.#passes.get(serverId) === pass) this.#passes.delete(serverId);
      });
    this.#passes.set(serverId, pass);
    return pass;
  }

  /** Moves each account of the server away while its status stays `draining`. */
  async #moveAway(serverId: string): Promise<MigrationResult[]> {
    const queue = this.o.fleet.assignedTo(serverId);
    const migrations: MigrationResult[] = [];
    // A server that went down is failover's: its fences would only time out under the account locks.
    const draining = () => {
      const s = this.o.fleet.get(serverId);
      return !this.#closed && s?.status === 'draining' && s.healthy;
    };
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && draining(); id = queue.shift()) {
        if (this.o.fleet.serverOf(id) !== serverId) continue; // moved or released meanwhile
        try {
          // expected_from: a move made meanwhile by someone else (checked under the lock) is not undone.
          const r = await this.o.mover.move({ account_id: id, allocation_type: 'drain', expected_from: serverId, context: `server ${serverId} drained` });
          migrations.push({ account_id: id, from_server_id: serverId, to_server_id: r.server_id, status: 'moved' });
        } catch (e) {
          if (this.o.fleet.serverOf(id) !== serverId && (e as BerthError).code === 'CONFLICT') continue; // it left this server meanwhile
          migrations.push({ account_id: id, from_server_id: serverId, to_server_id: '', status: 'failed', error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: DRAIN_CONCURRENCY }, worker));
    migrations.sort((a, b) => (a.account_id < b.account_id ? -1 : 1));
    const moved = migrations.filter((m) => m.status === 'moved').length;
    if (migrations.length > 0) this.o.logger.info({ server_id: serverId, moved, failed: migrations.length - moved, stopped: !draining() }, 'drain finished');
    return migrations;
  }
}
