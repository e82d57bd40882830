import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentConfigError, configFileFromArgs, connectUrlFor, hookEnvironment, loadAgentConfig } from '../../agent/config.js';
import { tempDir } from './helpers.js';

const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUfake0000000000000000000000000wCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
`;

describe('agent config', () => {
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => (dir = tempDir('berth-agent-config-')));
  afterEach(() => dir.cleanup());

  function writeConfig(value: unknown, name = 'agent.json'): string {
    const file = join(dir.path, name);
    writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    return file;
  }

  const complete = {
    controller_url: 'http://controller.example:8000',
    node_id: 'worker-01',
    token: 'tok-file-secret',
    sessions_dir: '/srv/berth/sessions',
  };

  it('loads a complete file with defaults, a derived ws URL, and freezes it', () => {
    const file = writeConfig({ ...complete, hooks: { on_assign: 'systemctl start run@$1' } });
    const { config, warnings } = loadAgentConfig({ file, env: {} });
    expect(warnings).to.deep.equal([]);
    expect(config.connect_url).to.equal('ws://controller.example:8000/api/v1/agents/connect');
    expect(config.node_id).to.equal('worker-01');
    expect(config.sessions_dir).to.equal('/srv/berth/sessions');
    expect(config.hooks).to.deep.equal({ on_assign: 'systemctl start run@$1', on_unassign: null });
    expect(config.report_interval_ms).to.equal(5000);
    expect(config.lease_ms).to.equal(20000);
    expect(config.log_level).to.equal('info');
    expect(config.ca).to.equal(null);
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.hooks)).to.equal(true);
    expect(() => ((config as { node_id: string }).node_id = 'x')).to.throw(TypeError);
  });

  it('builds the connect URL from http, https and a path prefix', () => {
    const table = [
      { base: 'http://10.0.0.1:8000', want: 'ws://10.0.0.1:8000/api/v1/agents/connect' },
      { base: 'https://berth.example.com', want: 'wss://berth.example.com/api/v1/agents/connect' },
      { base: 'https://berth.example.com:8443/', want: 'wss://berth.example.com:8443/api/v1/agents/connect' },
      { base: 'http://proxy:80/berth/', want: 'ws://proxy/berth/api/v1/agents/connect' },
    ];
    for (const { base, want } of table) expect(connectUrlFor(base), base).to.equal(want);
  });

  it('takes every value from the environment alone, and env overrides the file', () => {
    const env = {
      BERTH_CONTROLLER_URL: 'https://ctl.example:8443',
      BERTH_NODE_ID: 'worker-09',
      BERTH_AGENT_TOKEN: 'tok-env',
      BERTH_SESSIONS_DIR: 'relative/sessions',
    };
    const fromEnv = loadAgentConfig({ file: null, env, cwd: '/opt/berth' }).config;
    expect(fromEnv.connect_url).to.equal('wss://ctl.example:8443/api/v1/agents/connect');
    expect(fromEnv.sessions_dir).to.equal('/opt/berth/relative/sessions');
    expect(fromEnv.token).to.equal('tok-env');

    const file = writeConfig({ ...complete, report_interval_ms: 1000 });
    const mixed = loadAgentConfig({ file, env: { BERTH_NODE_ID: 'worker-02', BERTH_AGENT_TOKEN: '' } }).config;
    expect(mixed.node_id).to.equal('worker-02');
    expect(mixed.token).to.equal('tok-file-secret', 'an empty variable does not override');
    expect(mixed.report_interval_ms).to.equal(1000);
  });

  it('finds the file from --config, --config=, and BERTH_CONFIG', () => {
    expect(configFileFromArgs(['--config', 'a.json'], { BERTH_CONFIG: 'b.json' })).to.equal('a.json');
    expect(configFileFromArgs(['--config=c.json'], {})).to.equal('c.json');
    expect(configFileFromArgs([], { BERTH_CONFIG: 'b.json' })).to.equal('b.json');
    expect(configFileFromArgs([], {})).to.equal(null);
    expect(() => configFileFromArgs(['--config'], {})).to.throw(AgentConfigError, /--config needs a file/);
  });

  it('warns about unknown keys, naming them and the file', () => {
    const file = writeConfig({ ...complete, controler_url: 'typo', hooks: { on_asign: 'x' } });
    const { warnings } = loadAgentConfig({ file, env: {} });
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.include(file).and.include('"controler_url"');
    expect(warnings[1]).to.include('"hooks.on_asign"');
  });

  it('refuses wrong values with the key and the file named, never echoing the token', () => {
    const table: { name: string; patch: Record<string, unknown>; key: string }[] = [
      { name: 'ftp url', patch: { controller_url: 'ftp://x' }, key: 'controller_url' },
      { name: 'not a url', patch: { controller_url: 'controller:8000' }, key: 'controller_url' },
      { name: 'bad node id', patch: { node_id: '../etc' }, key: 'node_id' },
      { name: 'empty token', patch: { token: '' }, key: 'token' },
      { name: 'token not a string', patch: { token: 42 }, key: 'token' },
      { name: 'interval not a number', patch: { report_interval_ms: '5000' }, key: 'report_interval_ms' },
      { name: 'negative lease', patch: { lease_ms: -1 }, key: 'lease_ms' },
      { name: 'bad log level', patch: { log_level: 'loud' }, key: 'log_level' },
      { name: 'hook not a string', patch: { hooks: { on_assign: ['a'] } }, key: 'hooks.on_assign' },
    ];
    for (const { name, patch, key } of table) {
      const file = writeConfig({ ...complete, ...patch });
      let error: unknown;
      try {
        loadAgentConfig({ file, env: {} });
      } catch (e) {
        error = e;
      }
      expect(error, name).to.be.instanceOf(AgentConfigError);
      const message = (error as Error).message;
      expect(message, name).to.include(file).and.include(`${key}:`);
      expect(message, name).not.to.include('tok-file-secret');
    }
  });

  it('names the variable when a bad value came from the environment', () => {
    const file = writeConfig(complete);
    expect(() => loadAgentConfig({ file, env: { BERTH_NODE_ID: 'bad id!' } }))
      .to.throw(AgentConfigError, /environment variable BERTH_NODE_ID: node_id:/);
  });

  it('says which required key is missing and how to set it', () => {
    const { token: _omit, ...noToken } = complete;
    const file = writeConfig(noToken);
    expect(() => loadAgentConfig({ file, env: {} })).to.throw(AgentConfigError, /token: is required \(set it in the config file or BERTH_AGENT_TOKEN\)/);
  });

  it('refuses a file that is missing, not JSON, or not an object', () => {
    expect(() => loadAgentConfig({ file: join(dir.path, 'nope.json'), env: {} })).to.throw(AgentConfigError, /nope\.json: cannot read: ENOENT/);
    expect(() => loadAgentConfig({ file: writeConfig('{"a":', 'broken.json'), env: {} })).to.throw(AgentConfigError, /broken\.json: not valid JSON/);
    expect(() => loadAgentConfig({ file: writeConfig('[1]', 'list.json'), env: {} })).to.throw(AgentConfigError, /must be a JSON object/);
  });

  it('reads ca_file relative to the working directory and refuses a file without a certificate', () => {
    writeFileSync(join(dir.path, 'ca.pem'), CA_PEM);
    const file = writeConfig({ ...complete, controller_url: 'https://ctl:8443', ca_file: 'ca.pem' });
    const { config } = loadAgentConfig({ file, env: {}, cwd: dir.path });
    expect(config.ca_file).to.equal(join(dir.path, 'ca.pem'));
    expect(config.ca).to.equal(CA_PEM);

    writeFileSync(join(dir.path, 'junk.pem'), 'not a cert');
    const bad = writeConfig({ ...complete, ca_file: 'junk.pem' }, 'bad-ca.json');
    expect(() => loadAgentConfig({ file: bad, env: {}, cwd: dir.path })).to.throw(AgentConfigError, /ca_file: .*junk\.pem holds no PEM certificate/);
    const missing = writeConfig({ ...complete, ca_file: 'missing.pem' }, 'missing-ca.json');
    expect(() => loadAgentConfig({ file: missing, env: {}, cwd: dir.path })).to.throw(AgentConfigError, /ca_file: cannot read .*missing\.pem: ENOENT/);
  });

  it('reads "${NAME}" values from the environment', () => {
    const file = writeConfig({ ...complete, token: '${WORKER_TOKEN}' });
    expect(loadAgentConfig({ file, env: { WORKER_TOKEN: 'from-env-ref' } }).config.token).to.equal('from-env-ref');
    expect(() => loadAgentConfig({ file, env: {} })).to.throw(AgentConfigError, /token: environment variable WORKER_TOKEN is not set/);
  });

  it('hooks run without the variables the release launcher set for the agent alone', () => {
    const env = { PATH: '/usr/bin', MALLOC_ARENA_MAX: '1', BERTH_LAUNCHER_ENV: 'MALLOC_ARENA_MAX', BERTH_NODE_ID: 'w1' };
    expect(hookEnvironment(env)).to.deep.equal({ PATH: '/usr/bin', BERTH_NODE_ID: 'w1' });
    // Set by the service itself (the launcher named nothing): kept.
    const own = { PATH: '/usr/bin', MALLOC_ARENA_MAX: '4' };
    expect(hookEnvironment(own)).to.equal(own);
    expect(hookEnvironment({ ...own, BERTH_LAUNCHER_ENV: '' })).to.deep.equal(own);
  });
});
