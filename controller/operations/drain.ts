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
  constructor(private readonly o: { fleet: Fleet; store: Store; mover: Mover; logger: Logger }) {}

  /** Sets (or clears, with null) the admin override of a server's status, durably. */
  async setStatus(serverId: string, status: ServerStatus | null, reason: string): Promise<void> {
    if (!this.o.fleet.get(serverId)) throw new BerthError('SERVER_NOT_FOUND', `server ${serverId} is not configured`);
    await this.o.store.servers.update(serverId, { status_override: status }, new Date().toISOString());
    this.o.fleet.setStatusOverride(serverId, status);
    this.o.logger.info({ server_id: serverId, status_override: status }, reason);
  }

  /** Drains a server: it takes no new accounts and each of its accounts is moved away. */
  async drain(serverId: string): Promise<DrainResult> {
    await this.setStatus(serverId, 'draining', 'drain started');
    const queue = this.o.fleet.assignedTo(serverId);
    const migrations: MigrationResult[] = [];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const r = await this.o.mover.move({ account_id: id, allocation_type: 'drain', context: `server ${serverId} drained` });
          migrations.push({ account_id: id, from_server_id: serverId, to_server_id: r.server_id, status: 'moved' });
        } catch (e) {
          migrations.push({ account_id: id, from_server_id: serverId, to_server_id: '', status: 'failed', error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: DRAIN_CONCURRENCY }, worker));
    migrations.sort((a, b) => (a.account_id < b.account_id ? -1 : 1));
    this.o.logger.info({ server_id: serverId, moved: migrations.filter((m) => m.status === 'moved').length, failed: migrations.filter((m) => m.status === 'failed').length }, 'drain finished');
    return { migrations };
  }
}
