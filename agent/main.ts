#!/usr/bin/env node
/**
 * Entry point of `berth-agent`: `node dist/agent/main.js --config FILE` (or `BERTH_CONFIG`
 * and the `BERTH_*` variables). SIGTERM / SIGINT close the controller socket with 1000
 * and exit 0.
 */
import { createLineLogger } from '../shared/line-logger.js';
import { Agent } from './agent.js';
import { AgentConfigError, loadAgentConfigFromProcess } from './config.js';

/** Exit code for a configuration the agent refuses. */
export const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadAgentConfigFromProcess();
  } catch (e) {
    const log = createLineLogger({ name: 'berth-agent' });
    const message = e instanceof AgentConfigError ? e.message : (e as Error).message;
    log.fatal({ reason: message }, 'invalid agent configuration');
    log.flush();
    process.exitCode = EXIT_BAD_CONFIG;
    return;
  }
  const { config, warnings, file, env } = loaded;
  const log = createLineLogger({ name: 'berth-agent', level: config.log_level });
  for (const warning of warnings) log.warn({ config_file: file }, warning);
  log.info(
    { config_file: file, node_id: config.node_id, controller_url: config.controller_url, sessions_dir: config.sessions_dir },
    'berth agent starting',
  );

  const agent = new Agent({ config, logger: log, env });
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const hardStop = setTimeout(() => process.exit(0), 2000);
    hardStop.unref();
    agent
      .stop()
      .catch((e) => log.error({ err: e }, 'error while stopping'))
      .finally(() => {
        log.info('stopped');
        // Lines are written synchronously; flush only waits a tick.
        log.flush(() => process.exit(0));
      });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    await agent.start();
  } catch (e) {
    log.fatal({ err: e }, 'agent could not start');
    log.flush(() => process.exit(1));
  }
}

void main();
