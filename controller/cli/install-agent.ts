/**
 * One-command agent install over SSH (`berth-controller install-agent <server_id>`):
 * reaches the worker with the server's SSH settings from the config (through the same
 * pool and host key checks as transfers), copies the agent bundle over SFTP, writes
 * `/etc/berth/agent.json` with the server's `agent_token` (mode 0600), and runs the
 * bundle's `deploy/install.sh agent` there. The token never leaves the config and the
 * remote file: it is not printed, logged, or put on a command line.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { BerthError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { BerthConfig, ServerConfig } from '../config.js';
import { openStore } from '../store/store.js';
import { readFileOrNull, renameReplacing, writeFileSynced } from '../transfer/sftp-ops.js';
import { SshPool } from '../transfer/ssh-pool.js';
import { execRemote, shellQuote } from './remote-exec.js';

/** Options of {@link installAgent}. */
export interface InstallAgentOptions {
  config: BerthConfig;
  serverId: string;
  /** Local path of `berth-agent-<version>.tar.gz` (from `npm run package`). */
  bundle: string;
  /** The URL the agent dials; see {@link defaultControllerUrl}. */
  controllerUrl: string;
  /** Local PEM of a private CA, copied to `/etc/berth/ca.pem` and set as `ca_file`. @defaultValue none */
  caFile?: string | null;
  /** Install into this directory as the filesystem root (install.sh `--root`; for images and tests). @defaultValue none */
  remoteRoot?: string | null;
  /** Install and enable, but do not (re)start the service. @defaultValue false */
  noStart?: boolean;
  /** Bound on the remote install script. @defaultValue 300000 */
  installTimeoutMs?: number;
  /** Progress lines (never holding the token). @defaultValue ignored */
  say?: (line: string) => void;
  logger?: Logger;
}

/** What {@link installAgent} did. */
export interface InstallAgentReport {
  server_id: string;
  /** `user@host:port` */
  ssh: string;
  bundle: string;
  bundle_bytes: number;
  /** Path of the agent config on the worker (under the remote root, when given). */
  agent_config: string;
  controller_url: string;
  sessions_dir: string;
  /** Whether install.sh ran under `sudo -n`. */
  sudo: boolean;
  /** What install.sh printed (token scrubbed). */
  installer_output: string[];
}

/** The remote install step failed (non-zero exit of a remote command); `details.output` holds its last lines. */
export class InstallAgentError extends Error {
  readonly code = 'INSTALL_FAILED';
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'InstallAgentError';
  }
}

const AGENT_CONFIG = '/etc/berth/agent.json';
const AGENT_CA = '/etc/berth/ca.pem';

/** The controller's own URL from `controller.listen` and `tls`, or null when it listens on a wildcard address. */
export function defaultControllerUrl(config: BerthConfig): string | null {
  const { host, port, tls } = config.controller;
  if (!host || host === '0.0.0.0' || host === '::' || host === '[::]') return null;
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${h}:${port}`;
}

/**
 * The agent config written to the worker: an existing file's other keys (hooks,
 * log_level, …) are kept; controller_url, node_id, token and sessions_dir are set.
 */
export function agentConfigFor(server: ServerConfig, controllerUrl: string, existing: Record<string, unknown> | null, caFile: string | null): Record<string, unknown> {
  return {
    hooks: { on_assign: null, on_unassign: null },
    ...existing,
    controller_url: controllerUrl,
    node_id: server.server_id,
    token: server.agent_token,
    sessions_dir: server.sessions_dir,
    ...(caFile ? { ca_file: caFile } : {}),
  };
}

/** Installs the agent on one server. Throws BerthError (SERVER_NOT_FOUND, INVALID_REQUEST, SSH_UNREACHABLE, HOST_KEY_MISMATCH, TIMEOUT), or InstallAgentError when a remote step fails. */
export async function installAgent(o: InstallAgentOptions): Promise<InstallAgentReport> {
  const say = o.say ?? (() => undefined);
  const server = o.config.servers.get(o.serverId);
  if (!server) throw new BerthError('SERVER_NOT_FOUND', `server ${o.serverId} is not in ${o.config.file}`, { server_id: o.serverId });
  const token = server.agent_token;
  if (!token) throw new BerthError('INVALID_REQUEST', `server ${o.serverId} has no agent_token in ${o.config.file}: set one first`, { server_id: o.serverId });
  const bundleBytes = await stat(o.bundle).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (bundleBytes < 0) throw new BerthError('INVALID_REQUEST', `agent bundle ${o.bundle} not found: run \`npm run package\` or pass --bundle FILE`);
  const ca = o.caFile ? await readFile(o.caFile, 'utf8').catch(() => null) : null;
  if (o.caFile && !ca?.includes('BEGIN CERTIFICATE')) throw new BerthError('INVALID_REQUEST', `--ca-file ${o.caFile} holds no PEM certificate`);
  const root = (o.remoteRoot ?? '').replace(/\/+$/, '');
  if (root && !root.startsWith('/')) throw new BerthError('INVALID_REQUEST', '--remote-root must be an absolute path');
  const scrub = (text: string) => text.split(token).join('[redacted]');

  const store = await openStore(o.config.controller.database);
  const pool = new SshPool({
    servers: (id) => o.config.servers.get(id),
    hostKeys: {
      get: (id) => store.servers.getHostKey(id),
      record: async (id, fp) => {
        await store.servers.ensure([id], new Date().toISOString());
        await store.servers.update(id, { host_key: fp }, new Date().toISOString());
        say(`recorded the host key of ${id} on first use: ${fp}`);
      },
    },
    connectTimeoutMs: o.config.controller.upload_timeout_ms,
    logger: o.logger ?? silentLogger(),
  });
  const ssh = `${server.user}@${server.host}:${server.port}`;
  try {
    return await pool.use(o.serverId, async ({ sftp, client }) => {
      if (!client) throw new BerthError('INTERNAL', 'the SSH pool gave no client');
      const run = (cmd: string, timeoutMs = 30_000) => execRemote(client, cmd, { timeoutMs, serverId: o.serverId });
      say(`connected to ${o.serverId} (${ssh})`);
      const uid = (await run('id -u')).stdout.trim();
      const sudo = uid !== '0' && !root;
      const made = await run('umask 077 && mktemp -d /tmp/berth-install.XXXXXXXX');
      const tmp = made.stdout.trim();
      if (made.code !== 0 || !tmp.startsWith('/tmp/berth-install.')) throw new InstallAgentError(`cannot make a temp dir on ${o.serverId}: ${scrub(made.stderr.trim())}`);
      try {
        await put(sftp, o.bundle, `${tmp}/berth-agent.tar.gz`);
        say(`copied ${basename(o.bundle)} (${(bundleBytes / 1048576).toFixed(1)} MiB) to ${o.serverId}:${tmp}`);

        const existing = await readExisting(sftp, `${root}${AGENT_CONFIG}`);
        const agentConfig = agentConfigFor(server, o.controllerUrl, existing, ca ? AGENT_CA : null);
        await writeFileSynced(sftp, `${tmp}/agent.json`, Buffer.from(`${JSON.stringify(agentConfig, null, 2)}\n`), 0o600);
        if (ca) await writeFileSynced(sftp, `${tmp}/ca.pem`, Buffer.from(ca), 0o644);

        const q = shellQuote;
        const etc = `${root}/etc/berth`;
        const args = ['agent', '--deploy-dir', server.deploy_dir, ...(root ? ['--root', root] : []), ...(o.noStart ? ['--no-start'] : [])];
        const script = [
          'set -eu',
          `cd ${q(tmp)}`,
          'tar -xzf berth-agent.tar.gz',
          'rel=$(ls -d berth-agent-*/ | head -n 1)',
          '[ -f "$rel/deploy/install.sh" ] || { echo "the bundle has no deploy/install.sh" >&2; exit 3; }',
          `mkdir -p ${q(etc)}`,
          `install -m 0600 agent.json ${q(`${etc}/agent.json.new`)}`,
          `mv -f ${q(`${etc}/agent.json.new`)} ${q(`${etc}/agent.json`)}`,
          ...(ca ? [`install -m 0644 ca.pem ${q(`${root}${AGENT_CA}`)}`] : []),
          `sh "$rel/deploy/install.sh" ${args.map(q).join(' ')}`,
        ].join('\n');
        const command = sudo ? `sudo -n sh -c ${q(script)}` : `sh -c ${q(script)}`;
        say(`running install.sh ${args.join(' ')}${sudo ? ' (sudo -n)' : ''} on ${o.serverId}`);
        const result = await run(command, o.installTimeoutMs ?? 300_000);
        const output = scrub(`${result.stdout}${result.stderr}`).split('\n').filter((l) => l.trim() !== '');
        if (result.code !== 0) {
          throw new InstallAgentError(`install.sh failed on ${o.serverId} (exit ${String(result.code)})${sudo && /sudo/.test(result.stderr) ? ': the SSH user needs root or passwordless sudo' : ''}`,
            { server_id: o.serverId, exit_code: result.code, output: output.slice(-20) });
        }
        return {
          server_id: o.serverId, ssh, bundle: o.bundle, bundle_bytes: bundleBytes, agent_config: `${root}${AGENT_CONFIG}`,
          controller_url: o.controllerUrl, sessions_dir: server.sessions_dir, sudo, installer_output: output,
        };
      } finally {
        await run(`rm -rf ${shellQuote(tmp)}`).catch(() => undefined);
      }
    });
  } finally {
    await pool.close();
    await store.close();
  }
}

/** The worker's current agent config, when there is one and it is readable JSON. */
async function readExisting(sftp: SFTPWrapper, path: string): Promise<Record<string, unknown> | null> {
  try {
    const bytes = await readFileOrNull(sftp, path);
    if (!bytes) return null;
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

/** Copies a local file to the worker (written under a temp name, then renamed). */
async function put(sftp: SFTPWrapper, local: string, remote: string): Promise<void> {
  const part = `${remote}.${randomBytes(4).toString('hex')}.part`;
  await new Promise<void>((resolve, reject) => sftp.fastPut(local, part, { mode: 0o600 }, (e) => (e ? reject(e) : resolve())));
  await renameReplacing(sftp, part, remote);
}
