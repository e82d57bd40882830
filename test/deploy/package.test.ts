import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS } from '../../agent/node-flags.js';
import { AGENT_CONNECT_PATH, NODE_HEADER } from '../../shared/protocol.js';
import {
  PROJECT_DIR, relocatedUnit, run, tempDir, verifyUnit, waitFor, type RunResult,
} from './deploy-helpers.js';

const VERSION = (JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
const CONTROLLER_ONLY = ['express', 'kysely', 'better-sqlite3', 'ssh2', 'node-cron', 'prom-client'];
const DEV_ONLY = ['mocha', 'chai', 'typescript', '@types/node'];

/** Top-level npm packages (`node_modules/<name>/`) listed in a tarball. */
function bundledPackages(listing: string[]): Set<string> {
  const names = new Set<string>();
  for (const entry of listing) {
    const match = /^[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(entry);
    if (match) names.add(match[1]!);
  }
  return names;
}

async function listTarball(file: string): Promise<string[]> {
  const result = await run('tar', ['-tzf', file]);
  expect(result.code, result.stderr).to.equal(0);
  return result.stdout.split('\n').filter(Boolean);
}

function install(args: string[]): Promise<RunResult> {
  return run('sh', [path.join(PROJECT_DIR, 'deploy', 'install.sh'), ...args]);
}

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

describe('deploy: release tarballs and install.sh', function () {
  this.timeout(90_000);
  let outDir: string;
  let packageOutput: RunResult;
  let controllerTarball: string;
  let agentTarball: string;
  const cleanup: string[] = [];

  before(async () => {
    // What `npm run package` runs after its build step (the build is already done).
    outDir = tempDir('release');
    cleanup.push(outDir);
    packageOutput = await run(process.execPath, [path.join(PROJECT_DIR, 'dist', 'deploy', 'package.js'), '--out', outDir],
      { cwd: PROJECT_DIR, timeoutMs: 60_000 });
    if (packageOutput.code !== 0) throw new Error(`package failed: ${packageOutput.stderr}`);
    controllerTarball = path.join(outDir, `berth-controller-${VERSION}.tar.gz`);
    agentTarball = path.join(outDir, `berth-agent-${VERSION}.tar.gz`);
  });

  after(() => {
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  });

  it('writes both tarballs and prints their sizes', () => {
    expect(existsSync(controllerTarball)).to.equal(true);
    expect(existsSync(agentTarball)).to.equal(true);
    expect(packageOutput.stdout).to.match(new RegExp(`berth-controller-${VERSION}\\.tar\\.gz\\s+[\\d.]+ MiB`));
    expect(packageOutput.stdout).to.match(new RegExp(`berth-agent-${VERSION}\\.tar\\.gz\\s+[\\d.]+ MiB`));
  });

  it('the controller tarball holds the build, production dependencies and deploy files only', async () => {
    const listing = await listTarball(controllerTarball);
    const top = `berth-controller-${VERSION}`;
    for (const file of ['dist/controller/main.js', 'dist/shared/protocol.js', 'package.json', 'package-lock.json',
      'bin/berth-controller', 'deploy/install.sh', 'deploy/berth-controller.service',
      'deploy/master_config.example.json', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node']) {
      expect(listing, file).to.include(`${top}/${file}`);
    }
    expect(listing.filter((entry) => entry.startsWith(`${top}/dist/test/`) || entry.startsWith(`${top}/dist/bench/`)))
      .to.deep.equal([]);
    // Native addons ship compiled, without their sources or build trees: better-sqlite3's at
    // its root, ssh2's cipher binding (when npm built it, as on this machine) deeper down.
    if (existsSync('node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node')) {
      expect(listing).to.include(`${top}/node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node`);
    }
    const buildLeftovers = listing.filter((entry) => /\/node_modules\/(ssh2|better-sqlite3)\//.test(entry)
      && (/\.(o|mk)$/.test(entry) || /\/(src|deps)\/.*\.(cc|c|h)$/.test(entry) || entry.includes('/obj.target/') || entry.endsWith('/Makefile')));
    expect(buildLeftovers).to.deep.equal([]);
    const packages = bundledPackages(listing);
    for (const name of CONTROLLER_ONLY) expect(packages.has(name), name).to.equal(true);
    for (const name of DEV_ONLY) expect(packages.has(name), name).to.equal(false);
  });

  it('the agent tarball is one bundled file plus the lazily loaded fallback, without the controller\'s dependencies', async () => {
    const listing = await listTarball(agentTarball);
    const top = `berth-agent-${VERSION}`;
    // ws and zod are inside the bundle; systeminformation (off Linux only) is required lazily from node_modules.
    expect(listing.filter((entry) => entry.startsWith(`${top}/dist/`) && !entry.endsWith('/'))).to.deep.equal([`${top}/dist/agent/main.js`]);
    expect([...bundledPackages(listing)]).to.deep.equal(['systeminformation']);
    for (const file of ['THIRD_PARTY_LICENSES', 'bin/berth-agent', 'package.json', 'deploy/berth-agent.service']) {
      expect(listing, file).to.include(`${top}/${file}`);
    }
    expect(listing.some((entry) => entry.includes('/dist/controller/'))).to.equal(false);
    expect(statSync(agentTarball).size).to.be.below(statSync(controllerTarball).size / 2);
  });

  describe('install.sh agent into a temp root', () => {
    let root: string;
    let first: RunResult;

    before(async () => {
      root = tempDir('root-agent');
      cleanup.push(root);
      first = await install(['agent', '--tarball', agentTarball, '--root', root, '--no-start', '--deploy-dir', '/srv/worker']);
    });

    it('unpacks the release, the config, the unit with its drop-in, and enables it', () => {
      expect(first.code, first.stderr).to.equal(0);
      expect(existsSync(path.join(root, 'opt/berth/agent/bin/berth-agent'))).to.equal(true);
      expect(readlinkSync(path.join(root, 'usr/local/bin/berth-agent'))).to.equal('/opt/berth/agent/bin/berth-agent');
      const config = JSON.parse(readFileSync(path.join(root, 'etc/berth/agent.json'), 'utf8')) as Record<string, unknown>;
      expect(config.sessions_dir).to.equal('/srv/worker/sessions');
      expect(mode(path.join(root, 'etc/berth/agent.json'))).to.equal('600');
      expect(mode(path.join(root, 'etc/berth/berth.env'))).to.equal('600');
      expect(statSync(path.join(root, 'srv/worker/sessions')).isDirectory()).to.equal(true);
      const dropIn = readFileSync(path.join(root, 'etc/systemd/system/berth-agent.service.d/10-install.conf'), 'utf8');
      expect(dropIn).to.match(/^ReadWritePaths=\/srv\/worker$/m);
      expect(dropIn).to.match(/^User=\S+$/m);
      expect(lstatSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/berth-agent.service')).isSymbolicLink())
        .to.equal(true);
    });

    it('the installed unit and drop-in pass systemd-analyze verify', async () => {
      const result = await verifyUnit(relocatedUnit(path.join(root, 'etc/systemd/system/berth-agent.service'), root));
      expect(result.stderr + result.stdout).to.equal('');
      expect(result.code).to.equal(0);
    });

    it('running it again keeps an edited config', async () => {
      const configFile = path.join(root, 'etc/berth/agent.json');
      const edited = readFileSync(configFile, 'utf8').replace('worker-01', 'worker-42');
      writeFileSync(configFile, edited);
      const again = await install(['agent', '--tarball', agentTarball, '--root', root, '--no-start', '--deploy-dir', '/srv/worker']);
      expect(again.code, again.stderr).to.equal(0);
      expect(readFileSync(configFile, 'utf8')).to.equal(edited);
      expect(existsSync(path.join(root, 'opt/berth/agent/bin/berth-agent'))).to.equal(true);
    });

    it('the launcher runs the bundle with the agent\'s node flags and MALLOC_ARENA_MAX=1, named for the agent to keep out of its hooks; the bundled licences ship with it', () => {
      const release = path.join(root, 'opt/berth/agent');
      const launcher = path.join(release, 'bin/berth-agent');
      // A stand-in node: answers the launcher's flag probe (`-e 0`), refuses any flag
      // when REFUSE is set, else prints what it was started with.
      const fakeNode = path.join(root, 'fake-node');
      writeFileSync(fakeNode, [
        '#!/bin/sh',
        'for a in "$@"; do case "$a" in --config) ;; --*) [ -n "$REFUSE" ] && exit 9 ;; esac; done',
        'for a in "$@"; do [ "$a" = "-e" ] && exit 0; done',
        'echo "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-unset} LAUNCHER_ENV=${BERTH_LAUNCHER_ENV-unset} ARGS=$*"',
        '',
      ].join('\n'), { mode: 0o755 });
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_') && !k.startsWith('MALLOC_')));
      const run = (env: Record<string, string>) => spawnSync(launcher, ['--config', 'agent.json'], { env: { ...clean, BERTH_NODE: fakeNode, ...env }, encoding: 'utf8' });
      const main = path.join(release, 'dist/agent/main.js');

      const normal = run({});
      expect(normal.stdout.trim()).to.equal(`MALLOC_ARENA_MAX=1 LAUNCHER_ENV=MALLOC_ARENA_MAX ARGS=${AGENT_NODE_FLAGS.join(' ')} ${main} --config agent.json`);
      // The service's own setting wins and is then the hooks' too.
      expect(run({ MALLOC_ARENA_MAX: '4' }).stdout.trim()).to.equal(`MALLOC_ARENA_MAX=4 LAUNCHER_ENV=unset ARGS=${AGENT_NODE_FLAGS.join(' ')} ${main} --config agent.json`);
      // A node that refuses a flag still starts the agent, without the flags, and says why.
      const refused = run({ REFUSE: '1' });
      expect(refused.stdout.trim()).to.equal(`MALLOC_ARENA_MAX=1 LAUNCHER_ENV=MALLOC_ARENA_MAX ARGS=${main} --config agent.json`);
      expect(refused.stderr).to.include('refuses the flags');
      expect(Object.keys(AGENT_MALLOC_ENV)).to.deep.equal(['MALLOC_ARENA_MAX']);

      const licences = readFileSync(path.join(release, 'THIRD_PARTY_LICENSES'), 'utf8');
      expect(licences).to.match(/^ws \d+\.\d+\.\d+$/m);
      expect(licences).to.match(/^zod \d+\.\d+\.\d+$/m);
      expect(licences).to.include('Permission is hereby granted');
    });

    it('the unpacked agent says hello with its node_id, reports, and exits 0 on SIGTERM', async () => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_CONNECT_PATH });
      await new Promise<void>((resolve) => wss.once('listening', resolve));
      const port = (wss.address() as { port: number }).port;
      const received: Array<Record<string, unknown>> = [];
      let upgrade: IncomingMessage | undefined;
      wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
        upgrade = request;
        socket.on('message', (data) => {
          const message = JSON.parse(String(data)) as Record<string, unknown>;
          received.push(message);
          if (message.type === 'hello') {
            socket.send(JSON.stringify({ type: 'welcome', protocol: 1, report_interval_ms: 60_000, lease_ms: 120_000, assigned: [] }));
          }
        });
      });
      const sessionsDir = path.join(root, 'srv/worker/sessions');
      const configFile = path.join(root, 'test-agent.json');
      writeFileSync(configFile, JSON.stringify({
        controller_url: `http://127.0.0.1:${port}`, node_id: 'worker-07', token: 'deploy-test-token', sessions_dir: sessionsDir,
      }));
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BERTH_')));
      let agent: ChildProcess | undefined;
      let stderr = '';
      try {
        agent = spawn(path.join(root, 'opt/berth/agent/bin/berth-agent'), ['--config', configFile],
          { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
        agent.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
        const exited = new Promise<number | null>((resolve) => agent!.once('exit', (code) => resolve(code)));
        const hello = await waitFor('hello', () => received.find((m) => m.type === 'hello'), 15_000);
        expect(hello.node_id).to.equal('worker-07');
        // The bundle finds the release's package.json (`../../package.json`) for its version.
        expect(hello.agent_version).to.equal(VERSION);
        expect(hello.sessions_dir).to.equal(sessionsDir);
        expect(upgrade!.headers[NODE_HEADER]).to.equal('worker-07');
        expect(upgrade!.headers.authorization).to.equal('Bearer deploy-test-token');
        const report = await waitFor('report', () => received.find((m) => m.type === 'report'), 15_000);
        expect(report.accounts).to.deep.equal([]);
        expect(report.cpu_percent).to.be.a('number');
        agent.kill('SIGTERM');
        expect(await exited, stderr).to.equal(0);
      } finally {
        if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });
  });

  describe('install.sh controller into a temp root', () => {
    let root: string;
    let result: RunResult;

    before(async () => {
      root = tempDir('root-controller');
      cleanup.push(root);
      result = await install(['controller', '--tarball', controllerTarball, '--root', root, '--no-start']);
    });

    it('writes the config 0640, secrets 0600 with random tokens, the state dir and the unit', () => {
      expect(result.code, result.stderr).to.equal(0);
      expect(mode(path.join(root, 'etc/berth/master_config.json'))).to.equal('640');
      const config = JSON.parse(readFileSync(path.join(root, 'etc/berth/master_config.json'), 'utf8')) as
        { controller: { database: string; sessions_dir: string } };
      expect(config.controller.database).to.equal('/var/lib/berth/berth.sqlite');
      expect(config.controller.sessions_dir).to.equal('/var/lib/berth/sessions');
      const envFile = path.join(root, 'etc/berth/berth.env');
      expect(mode(envFile)).to.equal('600');
      const env = readFileSync(envFile, 'utf8');
      expect(env).to.match(/^BERTH_ADMIN_TOKEN=[0-9a-f]{64}$/m);
      expect(env).not.to.match(/=change-me/);
      expect(mode(path.join(root, 'var/lib/berth'))).to.equal('750');
      expect(existsSync(path.join(root, 'etc/systemd/system/berth-controller.service'))).to.equal(true);
      expect(result.stdout).not.to.match(/[0-9a-f]{64}/); // the token is not echoed
    });

    it('the installed controller unit passes systemd-analyze verify', async () => {
      const verify = await verifyUnit(relocatedUnit(path.join(root, 'etc/systemd/system/berth-controller.service'), root));
      expect(verify.stderr + verify.stdout).to.equal('');
      expect(verify.code).to.equal(0);
    });
  });
});
