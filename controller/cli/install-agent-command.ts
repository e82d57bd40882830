/**
 * `berth-controller install-agent <server_id> [options]`: argument parsing and output
 * around {@link installAgent}. Exit codes: 0 installed, 1 the install failed, 2 usage
 * or configuration error.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBerthError } from '../../shared/errors.js';
import { ConfigError, configPathFromArgs, loadConfig } from '../config.js';
import { defaultControllerUrl, installAgent, InstallAgentError } from './install-agent.js';

/** Usage text of the subcommand. */
export const INSTALL_AGENT_USAGE = `usage: berth-controller install-agent <server_id> [options]

Installs the agent on a worker over SSH, with the server's SSH settings from the config:
copies the agent bundle, writes /etc/berth/agent.json with the server's agent_token
(mode 0600; the token is never printed) and runs the bundle's deploy/install.sh agent.
The SSH user must be root or have passwordless sudo.

  --config FILE          controller config (default: BERTH_CONFIG, else data/master_config.json)
  --bundle FILE          berth-agent-<version>.tar.gz (default: the newest in ./release)
  --controller-url URL   the URL the agent dials (default: from controller.listen and tls;
                         required when the controller listens on 0.0.0.0)
  --ca-file FILE         PEM of a private CA: copied to /etc/berth/ca.pem, set as ca_file
  --remote-root DIR      install into DIR on the worker as the filesystem root
                         (install.sh --root; for images and tests: nothing is started)
  --no-start             install and enable, but do not start the service
`;

/** Where output goes. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const VALUE_OPTIONS = new Set(['--config', '--bundle', '--controller-url', '--ca-file', '--remote-root']);

/** Parses the arguments after `install-agent`; returns an error message for bad usage. */
export function parseInstallAgentArgs(argv: readonly string[]): { serverId: string; values: Map<string, string>; noStart: boolean } | string {
  const values = new Map<string, string>();
  const positional: string[] = [];
  let noStart = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_OPTIONS.has(name)) {
      const v = eq > 0 && name !== a ? a.slice(eq + 1) : argv[++i];
      if (!v) return `${name} needs a value`;
      values.set(name, v);
    } else if (a === '--no-start') noStart = true;
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else positional.push(a);
  }
  if (positional.length !== 1) return positional.length === 0 ? 'missing <server_id>' : `one server at a time (got ${positional.join(', ')})`;
  return { serverId: positional[0]!, values, noStart };
}

/** The newest `berth-agent-*.tar.gz` in `./release`, else in the checkout's `release/`. */
export function findAgentBundle(cwd = process.cwd()): string | null {
  const project = fileURLToPath(new URL('../../../', import.meta.url));
  for (const dir of [join(cwd, 'release'), join(project, 'release')]) {
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    const found = names.filter((n) => /^berth-agent-.+\.tar\.gz$/.test(n))
      .map((n) => ({ file: join(dir, n), mtime: statSync(join(dir, n)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime)[0];
    if (found) return found.file;
  }
  return null;
}

/** Runs the subcommand; resolves with the process exit code. */
export async function installAgentCommand(argv: readonly string[], io: CommandIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out(INSTALL_AGENT_USAGE);
    return 0;
  }
  const args = parseInstallAgentArgs(argv);
  if (typeof args === 'string') {
    io.err(`install-agent: ${args}\n\n${INSTALL_AGENT_USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(configPathFromArgs(args.values.has('--config') ? ['--config', args.values.get('--config')!] : []), { createIfMissing: false }).config;
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`install-agent: config refused: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const controllerUrl = args.values.get('--controller-url') ?? defaultControllerUrl(config);
  if (!controllerUrl) {
    io.err(`install-agent: the controller listens on ${config.controller.host}: pass --controller-url URL (the address the worker reaches it at)`);
    return 2;
  }
  if (!/^https?:\/\/[^/\s]+/.test(controllerUrl)) {
    io.err(`install-agent: --controller-url must be http://host:port or https://host:port`);
    return 2;
  }
  const bundle = args.values.get('--bundle') ?? findAgentBundle();
  if (!bundle) {
    io.err('install-agent: no release/berth-agent-*.tar.gz found: run `npm run package` or pass --bundle FILE');
    return 2;
  }
  try {
    const report = await installAgent({
      config, serverId: args.serverId, bundle: resolve(bundle), controllerUrl,
      caFile: args.values.get('--ca-file') ?? null, remoteRoot: args.values.get('--remote-root') ?? null,
      noStart: args.noStart, say: (l) => io.out(`install-agent: ${l}`),
    });
    io.out(`install-agent: wrote ${report.agent_config} (mode 0600): node_id ${report.server_id}, controller_url ${report.controller_url}, sessions_dir ${report.sessions_dir}, token from the config (not shown)`);
    for (const line of report.installer_output) io.out(`  ${line}`);
    io.out(`install-agent: done: ${report.server_id} (${report.ssh}) has the agent installed`);
    return 0;
  } catch (e) {
    if (e instanceof InstallAgentError) {
      io.err(`install-agent: ${e.message}`);
      for (const line of (e.details.output as string[] | undefined) ?? []) io.err(`  ${line}`);
      return 1;
    }
    if (isBerthError(e)) {
      io.err(`install-agent: ${e.code}: ${e.message}`);
      return e.code === 'INVALID_REQUEST' || e.code === 'SERVER_NOT_FOUND' ? 2 : 1;
    }
    io.err(`install-agent: failed: ${(e as Error).message}`);
    return 1;
  }
}
