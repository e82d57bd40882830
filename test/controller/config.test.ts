import { expect } from 'chai';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, configPathFromArgs, loadConfig, parseConfig } from '../../controller/config.js';
import { removeDir, tempDir } from '../helpers/temp.js';

/** The seed system's file, as it is in production (keys and values verbatim). */
const SEED = {
  servers: {
    'worker-01': {
      host: '165.154.254.99', user: 'ubuntu', password: 'Along2025!!!', node_id: 'worker-01',
      deploy_dir: '/home/ubuntu', max_accounts: 5, location: 'LosAngeles', status: 'active',
    },
    'worker-02': {
      host: '165.154.255.48', user: 'ubuntu', password: 'Along2025!!!', node_id: 'worker-02',
      deploy_dir: '/home/ubuntu', max_accounts: 5, location: 'LosAngeles', status: 'active',
    },
  },
};

describe('controller config', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => removeDir(dir));

  it('loads the seed file unchanged and fills the defaults', () => {
    const file = join(dir, 'master_config.json');
    writeFileSync(file, JSON.stringify(SEED, null, 2));
    const { config, warnings, created } = loadConfig(file, { cwd: dir, env: {} });
    expect(created).to.equal(false);
    expect(warnings).to.deep.equal([]);
    const w1 = config.servers.get('worker-01')!;
    expect(w1).to.include({ host: '165.154.254.99', port: 22, user: 'ubuntu', max_accounts: 5, location: 'LosAngeles', status: 'active', deploy_dir: '/home/ubuntu', sessions_dir: '/home/ubuntu/sessions' });
    expect(w1.password).to.equal('Along2025!!!');
    expect(config.controller).to.include({ listen: '0.0.0.0:8000', host: '0.0.0.0', port: 8000, default_strategy: 'load_balance', report_interval_ms: 5000, down_after_ms: 15000, lease_ms: 20000, failover_after_ms: 30000, upload_timeout_ms: 10000 });
    expect(config.controller.database).to.equal(join(dir, 'data/berth.sqlite'));
    expect(config.controller.sessions_dir).to.equal(join(dir, 'data/sessions'));
    expect(config.controller.rebalance).to.deep.equal({ schedule: null, threshold: 30, max_migrations: 10, cooldown_ms: 1800000 });
    const w = config.controller.weights;
    expect(w.cpu + w.memory + w.accounts + w.disk).to.be.closeTo(1, 1e-12);
    expect(w.cpu).to.be.closeTo(0.3, 1e-12);
  });

  it('is frozen', () => {
    const { config } = parseConfig(SEED, 'x.json', { env: {} });
    expect(Object.isFrozen(config.controller)).to.equal(true);
    expect(Object.isFrozen(config.controller.weights)).to.equal(true);
    expect(Object.isFrozen(config.servers.get('worker-01'))).to.equal(true);
  });

  it('reads "${NAME}" values from the environment', () => {
    const raw = { controller: { api_tokens: [{ name: 'ops', token: '${BERTH_ADMIN_TOKEN}', role: 'admin' }] }, servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', password: '${W_PASS}' } } };
    const { config } = parseConfig(raw, 'c.json', { env: { BERTH_ADMIN_TOKEN: 'x'.repeat(20), W_PASS: 'secret-pass' } });
    expect(config.controller.api_tokens[0]!.token).to.equal('x'.repeat(20));
    expect(config.servers.get('w')!.password).to.equal('secret-pass');
  });

  it('normalises weights to sum 1', () => {
    const { config } = parseConfig({ controller: { weights: { cpu: 1, memory: 1, accounts: 1, disk: 1 } } }, 'c.json', { env: {} });
    expect(config.controller.weights).to.deep.equal({ cpu: 0.25, memory: 0.25, accounts: 0.25, disk: 0.25 });
  });

  it('warns about unknown keys, naming them', () => {
    const raw = { extra: 1, controller: { listn: 'x', rebalance: { treshold: 3 } }, servers: { 'worker-01': { ...SEED.servers['worker-01'], colour: 'red' } } };
    const { warnings } = parseConfig(raw, 'c.json', { env: {} });
    expect(warnings.join('\n')).to.include('extra').and.include('controller.listn').and.include('controller.rebalance.treshold').and.include('servers.worker-01.colour');
  });

  it('lowers max_accounts to the 4000 accounts an agent-protocol list carries with room for moves, with a warning', () => {
    const raw = { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', max_accounts: 5000 } } };
    const { config, warnings } = parseConfig(raw, 'c.json', { env: {} });
    expect(config.servers.get('w')!.max_accounts).to.equal(4000);
    expect(warnings.join('\n')).to.include('servers.w.max_accounts 5000 is above 4000');
  });

  it('warns about unknown keys inside tokens, alerts, webhooks and tls, and about webhook events that never fire', () => {
    const raw = {
      controller: {
        api_tokens: [{ name: 'a', token: 'x'.repeat(20), role: 'admin', scope: 'all' }],
        alerts: { webhook: [], webhooks: [{ url: 'https://hooks.example/x', events: ['server_down', 'server_dwon'], secret: 'y' }] },
        tls: null,
      },
    };
    const { warnings } = parseConfig(raw, 'c.json', { env: {} });
    const text = warnings.join('\n');
    expect(text).to.include('controller.api_tokens[0].scope').and.include('controller.alerts.webhook ')
      .and.include('controller.alerts.webhooks[0].secret').and.include('unknown event "server_dwon"');
    expect(text).to.not.include('"server_down"');
    const tls = parseConfig({ controller: { tls: { cert_file: 'c', key_file: 'k', ca_file: 'x' } } }, 'c.json', { env: {} });
    expect(tls.warnings.join('\n')).to.include('controller.tls.ca_file');
    // The secret-looking value of an unknown key is not echoed.
    expect(text).to.not.include('x'.repeat(20));
  });

  const bad: { name: string; raw: unknown; key: string }[] = [
    { name: 'a string for max_accounts', raw: { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', max_accounts: 'five' } } }, key: 'servers.w.max_accounts' },
    { name: 'an unknown status', raw: { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', status: 'paused' } } }, key: 'servers.w.status' },
    { name: 'node_id differing from the key', raw: { servers: { w: { ...SEED.servers['worker-01'] } } }, key: 'servers.w.node_id' },
    { name: 'a relative deploy_dir', raw: { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', deploy_dir: 'home' } } }, key: 'servers.w.deploy_dir' },
    { name: 'a missing host', raw: { servers: { w: { user: 'u', deploy_dir: '/d', max_accounts: 1 } } }, key: 'servers.w.host' },
    { name: 'a bad listen address', raw: { controller: { listen: 'eight thousand' } }, key: 'controller.listen' },
    { name: 'an unknown strategy', raw: { controller: { default_strategy: 'random' } }, key: 'controller.default_strategy' },
    { name: 'a negative weight', raw: { controller: { weights: { cpu: -1 } } }, key: 'controller.weights.cpu' },
    { name: 'a short api token', raw: { controller: { api_tokens: [{ name: 'a', token: 'short', role: 'admin' }] } }, key: 'controller.api_tokens.0.token' },
    { name: 'an unknown role', raw: { controller: { api_tokens: [{ name: 'a', token: 'x'.repeat(20), role: 'root' }] } }, key: 'controller.api_tokens.0.role' },
    { name: 'a bad cron schedule', raw: { controller: { rebalance: { schedule: 'every day' } } }, key: 'controller.rebalance.schedule' },
    { name: 'a bad host_key', raw: { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', host_key: 'md5:aa' } } }, key: 'servers.w.host_key' },
    { name: 'an unset environment variable', raw: { servers: { w: { ...SEED.servers['worker-01'], node_id: 'w', password: '${NOPE_NOT_SET}' } } }, key: 'NOPE_NOT_SET' },
    { name: 'a server id with a slash', raw: { servers: { 'a/b': { ...SEED.servers['worker-01'], node_id: undefined } } }, key: 'servers.a/b' },
    { name: 'an array at the top', raw: [], key: 'top level' },
  ];
  for (const t of bad) {
    it(`refuses ${t.name}, naming the key and the file`, () => {
      expect(() => parseConfig(t.raw, '/etc/berth/master_config.json', { env: {} }))
        .to.throw(ConfigError).with.property('message').that.includes(t.key).and.includes('/etc/berth/master_config.json');
    });
  }

  it('refuses a file that is not JSON, naming the file', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ "servers": ');
    expect(() => loadConfig(file, { env: {} })).to.throw(ConfigError, file);
  });

  it('a JSON error gives the line and column but never the text around it (it may be a secret)', () => {
    const cases = [
      { text: '{\n  "servers": {},\n  "password": hunter2secret\n}', line: 3 },
      { text: '{\n  "token": "s3cr3t-token-value" "x": 1\n}', line: 2 },
    ];
    for (const c of cases) {
      const file = join(dir, 'secret.json');
      writeFileSync(file, c.text);
      let message = '';
      try {
        loadConfig(file, { env: {} });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).to.include(`not valid JSON at line ${c.line}, column`);
      expect(message).to.not.match(/hunter2|s3cr3t/);
    }
  });

  it('creates a first config with an empty fleet and a random admin token, mode 0600', () => {
    const file = join(dir, 'data', 'master_config.json');
    const first = loadConfig(file, { cwd: dir, env: {} });
    expect(first.created).to.equal(true);
    expect(existsSync(file)).to.equal(true);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const onDisk = JSON.parse(readFileSync(file, 'utf8'));
    expect(onDisk.servers).to.deep.equal({});
    const token = first.config.controller.api_tokens[0]!;
    expect(token.role).to.equal('admin');
    expect(token.token).to.have.length.greaterThan(20);
    const again = loadConfig(file, { cwd: dir, env: {} });
    expect(again.created).to.equal(false);
    expect(again.config.controller.api_tokens[0]!.token).to.equal(token.token);
    const other = loadConfig(join(dir, 'other.json'), { cwd: dir, env: {} });
    expect(other.config.controller.api_tokens[0]!.token).to.not.equal(token.token);
  });

  it('finds the config from --config, BERTH_CONFIG, or the default', () => {
    expect(configPathFromArgs(['--config', 'a.json'], {})).to.equal('a.json');
    expect(configPathFromArgs(['--config=b.json'], {})).to.equal('b.json');
    expect(configPathFromArgs([], { BERTH_CONFIG: 'c.json' })).to.equal('c.json');
    expect(configPathFromArgs([], {})).to.equal('data/master_config.json');
  });
});
