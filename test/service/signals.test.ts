/**
 * The controller as a real process under signals (SPEC §1): SIGHUP reloads the config
 * file (servers added, changed, removed; an invalid file is refused and the old config
 * stays), SIGTERM closes agents with 1001, closes the database and exits 0.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Api, ControllerProcess, fixtureConfig, removeDir, tempDir, writeConfig,
} from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { RawAgent } from './raw-agent.js';

describe('service: signals', function () {
  this.timeout(30_000);
  let dir: string;
  let file: string;
  let proc: ControllerProcess;
  let api: Api;
  const raw = () => fixtureConfig(dir, [{ id: 'w1' }, { id: 'w2', max_accounts: 3 }], { log_level: 'info' });

  before(async () => {
    dir = tempDir('berth-signals-');
    file = writeConfig(dir, raw());
    proc = await new ControllerProcess(dir, file).ready();
    api = Api.for(proc.port);
  });

  after(async () => {
    if (proc.proc.exitCode === null && proc.proc.signalCode === null) {
      proc.kill('SIGKILL');
      await proc.exited();
    }
    removeDir(dir);
  });

  const serverIds = async (): Promise<string[]> => {
    const res = await api.get('/servers');
    expect(res.status).to.equal(200);
    return (res.body.servers as { server_id: string }[]).map((s) => s.server_id);
  };

  it('SIGHUP adds, changes and removes servers from the edited file', async () => {
    expect(await serverIds()).to.deep.equal(['w1', 'w2']);
    const next = raw() as { servers: Record<string, Record<string, unknown>> };
    delete next.servers.w1;
    next.servers.w2!.max_accounts = 7;
    next.servers.w3 = { ...next.servers.w2!, node_id: 'w3', agent_token: 'agent-token-w3-0123456789', location: 'Tokyo' };
    writeConfig(dir, next);
    proc.kill('SIGHUP');
    await waitFor('w3 in GET /servers', async () => (await serverIds()).includes('w3'));
    expect(await serverIds()).to.deep.equal(['w2', 'w3']);
    const w2 = await api.get('/servers/w2');
    expect(w2.body.max_accounts).to.equal(7);
    const w3 = await api.get('/servers/w3');
    expect(w3.body.location).to.equal('Tokyo');
    expect((await api.get('/servers/w1')).status).to.equal(404);
    expect(proc.logs().some((l) => l.msg === 'config reloaded')).to.equal(true);
  });

  it('SIGHUP with an invalid file logs the refusal and keeps the running config', async () => {
    const before = await serverIds();
    writeFileSync(file, '{ "controller": { "listen": ');
    proc.kill('SIGHUP');
    const line = await waitFor('a refusal log line', () => proc.logs().find((l) => /reload refused/.test(String(l.msg))));
    expect(line.level).to.equal(50);
    expect(String(line.err)).to.match(/JSON|parse|Unexpected|Expected/i);
    expect(await serverIds()).to.deep.equal(before);
    // A file that parses but breaks a rule is refused the same way.
    const bad = raw() as { servers: Record<string, Record<string, unknown>> };
    bad.servers.w1!.node_id = 'not-w1';
    writeConfig(dir, bad);
    proc.kill('SIGHUP');
    await waitFor('a second refusal', () => proc.logs().filter((l) => /reload refused/.test(String(l.msg))).length >= 2);
    expect(await serverIds()).to.deep.equal(before);
    expect(proc.proc.exitCode).to.equal(null);
  });

  it('SIGHUP that changes listen warns that it needs a restart and keeps serving where it is', async () => {
    const next = raw() as { controller: Record<string, unknown>; servers: Record<string, Record<string, unknown>> };
    delete next.servers.w1;
    next.servers.w3 = { ...next.servers.w2!, node_id: 'w3', agent_token: 'agent-token-w3-0123456789' };
    next.controller.listen = '127.0.0.1:1';
    writeConfig(dir, next);
    proc.kill('SIGHUP');
    const line = await waitFor('a restart warning', () => proc.logs().find((l) => /next restart/.test(String(l.msg))));
    expect(line.settings).to.deep.equal(['port']);
    expect(await serverIds()).to.deep.equal(['w2', 'w3']);
  });

  it('SIGTERM closes agent sockets with 1001, closes the database and exits 0', async () => {
    const agent = await RawAgent.connect(`http://127.0.0.1:${proc.port}`, 'w2');
    agent.reportEvery(200, () => ({ cpu_percent: 10, memory_percent: 10, disk_percent: 10 }));
    await waitFor('w2 healthy', async () => (await api.get('/servers/w2')).body.healthy === true);
    proc.kill('SIGTERM');
    expect(await agent.closed()).to.equal(1001);
    expect(await proc.exited()).to.equal(0);
    expect(proc.logs().some((l) => l.msg === 'controller stopped')).to.equal(true);
    // Closed cleanly: the WAL was checkpointed into the main file and removed.
    const db = join(dir, 'berth.sqlite');
    const wal = `${db}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0, 'no WAL left behind').to.equal(true);
    const check = new Database(db, { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).to.equal('ok');
      const rows = check.prepare('select server_id from servers order by server_id').all() as { server_id: string }[];
      expect(rows.map((r) => r.server_id)).to.include.members(['w2', 'w3']);
    } finally {
      check.close();
    }
  });
});
