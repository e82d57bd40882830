/**
 * `berth-controller install-agent <server_id>` against a real sshd: the real agent
 * bundle (`package.js --only agent`) is copied over SFTP and installed by its own
 * install.sh into a temp root on this machine (`--remote-root`), with agent.json
 * carrying the server's node_id and token, mode 0600; the token is never printed.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, PROJECT_DIR } from '../deploy/deploy-helpers.js';
import { agentToken, CONTROLLER_MAIN, fixtureConfig, removeDir, tempDir, writeConfig } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';

const VERSION = (JSON.parse(readFileSync(join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string }).version;

describe('service: install-agent over SSH', function () {
  this.timeout(60_000);
  let dir: string;
  let sshd: SshdFixture;
  let bundle: string;
  let configFile: string;
  let root: string;

  before(async () => {
    dir = tempDir('berth-install-agent-');
    const built = await run(process.execPath, [join(PROJECT_DIR, 'dist', 'deploy', 'package.js'), '--out', join(dir, 'release'), '--only', 'agent']);
    if (built.code !== 0) throw new Error(`package failed: ${built.stderr}`);
    bundle = join(dir, 'release', `berth-agent-${VERSION}.tar.gz`);
    sshd = await startSshd({ host: '127.0.0.6' });
    // No pinned host key: the first one seen is recorded, as transfers do.
    configFile = writeConfig(dir, fixtureConfig(dir, [
      { id: 'w1', sshd, extra: { host_key: null, deploy_dir: '/home/worker1' } },
      { id: 'w-pinned', sshd, extra: { host_key: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', deploy_dir: '/home/worker2' } },
    ]));
    root = join(dir, 'remote-root');
    await run('mkdir', ['-p', root]);
  });

  after(async () => {
    await sshd?.dispose();
    removeDir(dir);
  });

  const installAgent = (...args: string[]) =>
    run(process.execPath, [CONTROLLER_MAIN, 'install-agent', ...args, '--config', configFile], { cwd: dir, timeoutMs: 50_000 });

  it('copies the bundle, writes agent.json (0600) and runs install.sh on the worker', async () => {
    const r = await installAgent('w1', '--bundle', bundle, '--controller-url', 'https://controller.test:8443', '--remote-root', root);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const out = r.stdout + r.stderr;
    expect(out).not.to.include(agentToken('w1'));
    expect(r.stdout).to.match(/connected to w1 \(root@127\.0\.0\.6:\d+\)/);
    expect(r.stdout).to.include(`copied berth-agent-${VERSION}.tar.gz`);
    expect(r.stdout).to.include('berth-install: installed agent release to');
    expect(r.stdout).to.match(/wrote .*\/etc\/berth\/agent\.json \(mode 0600\): node_id w1, controller_url https:\/\/controller\.test:8443/);
    expect(r.stdout).to.include('token from the config (not shown)');

    const configPath = join(root, 'etc', 'berth', 'agent.json');
    const installed = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    expect(installed).to.include({
      node_id: 'w1', token: agentToken('w1'), controller_url: 'https://controller.test:8443', sessions_dir: '/home/worker1/sessions',
    });
    expect((statSync(configPath).mode & 0o777).toString(8)).to.equal('600');
    expect(existsSync(join(root, 'opt', 'berth', 'agent', 'bin', 'berth-agent'))).to.equal(true);
    expect(existsSync(join(root, 'opt', 'berth', 'agent', 'dist', 'agent', 'main.js'))).to.equal(true);
    expect(readFileSync(join(root, 'etc', 'systemd', 'system', 'berth-agent.service'), 'utf8')).to.include('ExecStart=');
    expect(statSync(join(root, 'home', 'worker1', 'sessions')).isDirectory()).to.equal(true);

    // The remote temp dir (with the token inside) is gone.
    const tmp = /to w1:(\/tmp\/berth-install\.\w+)/.exec(r.stdout)?.[1];
    expect(tmp, 'temp dir named in the output').to.be.a('string');
    expect(existsSync(tmp!)).to.equal(false);

    // The host key seen on first use was recorded in the controller's store.
    const db = new Database(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      const row = db.prepare('select host_key from servers where server_id = ?').get('w1') as { host_key: string } | undefined;
      expect(row?.host_key).to.equal(sshd.hostKeyFingerprint);
    } finally {
      db.close();
    }

    // The unit's drop-in lets the agent write the worker's deploy_dir.
    const dropIn = readFileSync(join(root, 'etc', 'systemd', 'system', 'berth-agent.service.d', '10-install.conf'), 'utf8');
    expect(dropIn).to.include('ReadWritePaths=/home/worker1');
  });

  it('running it again keeps the operator\'s hooks and refreshes the token and URL', async () => {
    const configPath = join(root, 'etc', 'berth', 'agent.json');
    const edited = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...edited, token: 'stale', hooks: { on_assign: 'systemctl start runner@$1', on_unassign: null } }));
    const r = await installAgent('w1', '--bundle', bundle, '--controller-url', 'http://10.0.0.1:8000', '--remote-root', root);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const installed = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, any>;
    expect(installed.token).to.equal(agentToken('w1'));
    expect(installed.controller_url).to.equal('http://10.0.0.1:8000');
    expect(installed.hooks.on_assign).to.equal('systemctl start runner@$1');
    expect((statSync(configPath).mode & 0o777).toString(8)).to.equal('600');
  });

  it('refuses a host key that does not match the pinned one, and installs nothing', async () => {
    const other = join(dir, 'root-pinned');
    await run('mkdir', ['-p', other]);
    const r = await installAgent('w-pinned', '--bundle', bundle, '--controller-url', 'http://10.0.0.1:8000', '--remote-root', other);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('HOST_KEY_MISMATCH');
    expect(existsSync(join(other, 'etc', 'berth', 'agent.json'))).to.equal(false);
    expect(r.stdout + r.stderr).not.to.include(agentToken('w-pinned'));
  });

  it('explains usage errors: unknown server, missing bundle, wildcard listen without --controller-url', async () => {
    const unknown = await installAgent('nope', '--bundle', bundle, '--controller-url', 'http://x:1');
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.include('SERVER_NOT_FOUND');
    const missing = await installAgent('w1', '--bundle', join(dir, 'none.tar.gz'), '--controller-url', 'http://x:1');
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/bundle .* not found/);
    const wildcard = fixtureConfig(dir, [{ id: 'w1', sshd }], { listen: '0.0.0.0:8000' });
    writeConfig(dir, wildcard);
    try {
      const noUrl = await installAgent('w1', '--bundle', bundle);
      expect(noUrl.code).to.equal(2);
      expect(noUrl.stderr).to.include('pass --controller-url');
    } finally {
      writeConfig(dir, fixtureConfig(dir, [{ id: 'w1', sshd, extra: { host_key: null, deploy_dir: '/home/worker1' } }]));
    }
  });
});
