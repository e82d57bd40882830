#!/usr/bin/env node
/**
 * The end-to-end baseline's controller: the real controller (same HTTP API, SQLite
 * store, placement and `SessionTransfer`), except that its placer uploads over a
 * {@link FreshConnectionPool}, a new SSH connection per upload, as the old system did.
 * Bench-only: `node dist/bench/support/baseline-controller.js --config FILE`.
 */
import { configPathFromArgs, loadConfig } from '../../controller/config.js';
import { Controller } from '../../controller/controller.js';
import type { PlacerOptions } from '../../controller/operations/placer.js';
import { SessionTransfer } from '../../controller/transfer/session-transfer.js';
import type { SshPool } from '../../controller/transfer/ssh-pool.js';
import { createLogger } from '../../shared/log.js';
import { FreshConnectionPool } from './fresh-connection-pool.js';

async function main(): Promise<void> {
  const { config } = loadConfig(configPathFromArgs(process.argv.slice(2)), { createIfMissing: false });
  const log = createLogger({ name: 'berth-controller-baseline', level: config.controller.log_level });
  const controller = new Controller(config, log);
  await controller.start();
  const pool = new FreshConnectionPool({ servers: (id) => controller.config.servers.get(id), connectTimeoutMs: config.controller.upload_timeout_ms });
  const transfer = new SessionTransfer({ pool: pool as unknown as SshPool, defaultTimeoutMs: config.controller.upload_timeout_ms, logger: log.child({ part: 'transfer' }) });
  // The placer keeps its collaborators in its options object: swap the transfer for the baseline's.
  (controller.placer as unknown as { o: PlacerOptions }).o.transfer = transfer;
  log.info({ handshakes_per_upload: 1 }, 'baseline: fresh ssh connection per upload');
  process.on('SIGTERM', () => {
    log.info({ handshakes: pool.handshakes() }, 'baseline handshakes');
    void controller.stop().finally(() => process.exit(0));
  });
}

void main();
