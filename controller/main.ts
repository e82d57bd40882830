#!/usr/bin/env node
/**
 * The controller's entry point: load the config (creating a first one when there is
 * none), start, and handle SIGTERM (graceful stop) and SIGHUP (reload).
 * `berth-controller install-agent <server_id> …` runs that subcommand instead.
 */
import './v8-tuning.js'; // first: V8 flags before the heap fills
import { afterLinesWritten, createLogger } from '../shared/log.js';
import { ConfigError, configPathFromArgs, loadConfig } from './config.js';
import { Controller } from './controller.js';

async function main(): Promise<void> {
  const file = configPathFromArgs(process.argv.slice(2));
  let loaded;
  try {
    loaded = loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      // Like every other line: one JSON object on stdout (SPEC §1), then exit 2.
      const log = createLogger({ name: 'berth-controller' });
      log.fatal({ config_file: file }, `config refused: ${e.message}`);
      log.flush(() => process.exit(2));
      return;
    }
    throw e;
  }
  const { config, warnings, created } = loaded;
  const log = createLogger({ name: 'berth-controller', level: config.controller.log_level });
  if (created) log.warn({ file: config.file }, `no config file was found: wrote ${config.file} with an empty fleet and a new admin API token (read it from that file, controller.api_tokens)`);
  for (const w of warnings) log.warn(w);

  const controller = new Controller(config, log);
  process.on('unhandledRejection', (e) => log.error({ err: e }, 'unhandled rejection'));
  try {
    await controller.start();
  } catch (e) {
    log.fatal({ err: e }, 'controller failed to start');
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: 'SIGTERM' | 'SIGINT') => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; killing the process');
      afterLinesWritten(log, () => process.kill(process.pid, 'SIGKILL'));
    }, 30_000);
    force.unref();
    try {
      if (await controller.stop()) process.exit(0);
      // A session copy is still being written, its thread perhaps stuck in a system call
      // (a disk that hangs): process.exit would wait to join that thread, for ever. The
      // database is closed; end by the signal's default action instead.
      afterLinesWritten(log, () => {
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      });
    } catch (e) {
      log.error({ err: e }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig(config.file, { createIfMissing: false });
      for (const w of next.warnings) log.warn(w);
      const running = controller.config.controller;
      const fresh = next.config.controller;
      const needRestart: string[] = (['host', 'port', 'database', 'sessions_dir', 'log_level'] as const).filter((k) => running[k] !== fresh[k]);
      if (JSON.stringify(running.tls) !== JSON.stringify(fresh.tls)) needRestart.push('tls');
      if (needRestart.length > 0) log.warn({ settings: needRestart }, 'these settings take effect at the next restart; the rest is reloaded now');
      void controller.reload(next.config).catch((e) => log.error({ err: e }, 'reload failed'));
    } catch (e) {
      log.error({ err: (e as Error).message }, 'config reload refused; the running config stays');
    }
  });
}

const argv = process.argv.slice(2);
if (argv[0] === 'install-agent') {
  const { installAgentCommand } = await import('./cli/install-agent-command.js');
  process.exit(await installAgentCommand(argv.slice(1)));
} else if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
  process.stdout.write('usage: berth-controller [--config FILE]          run the controller (SIGHUP reloads, SIGTERM stops)\n'
    + '       berth-controller install-agent <server_id> [--config FILE] [--bundle FILE] [--controller-url URL] [--ca-file FILE] [--remote-root DIR] [--no-start]\n');
} else {
  void main();
}
