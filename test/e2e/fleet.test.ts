/**
 * End to end: the controller as its own process and two real agent processes. Both
 * servers show up healthy in the rankings with live metrics and their session counts; a
 * killed agent makes only its server go down, a restarted one brings it back; SIGTERM
 * stops the controller with exit code 0 and the agents see close code 1001.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../controller/store/store.js';
import { AgentProcess, Api, ControllerProcess, fixtureConfig, removeDir, tempDir, writeConfig } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

interface Row {
  server_id: string; healthy: boolean; eligible: boolean; cpu_percent: number; memory_percent: number; disk_percent: number;
  accounts: number; reported_accounts: number | null; latency_ms: number | null; last_report_at: string | null; consecutive_failures: number;
}

const SESSIONS: Record<string, string[]> = {
  e1: ['639000000001', '639000000002'],
  e2: ['639000000011', '639000000012', '639000000013'],
};

describe('e2e: controller process with two real agents', function () {
  this.timeout(60_000);
  let dir: string;
  let controller: ControllerProcess;
  let api: Api;
  const agents = new Map<string, AgentProcess>();
  const sessionsDir = (id: string) => join(dir, 'workers', id, 'sessions');

  const rows = async (): Promise<Map<string, Row>> => {
    const res = await api.get('/allocation/rankings');
    expect(res.status).to.equal(200);
    return new Map((res.body.servers as Row[]).map((r) => [r.server_id, r]));
  };
  const startAgent = (id: string) => {
    const a = new AgentProcess({ port: controller.port, id, sessionsDir: sessionsDir(id), dir });
    agents.set(id, a);
    return a;
  };
  /** Waits until `id` is up with live figures and its session count. */
  const waitLive = (id: string) => waitFor(`${id} live in the rankings`, async () => {
    const r = (await rows()).get(id)!;
    return r.healthy && r.reported_accounts === SESSIONS[id]!.length && typeof r.latency_ms === 'number' ? r : null;
  }, 20_000, 100);

  before(async () => {
    dir = tempDir('berth-e2e-fleet-');
    const raw = fixtureConfig(dir, [{ id: 'e1', max_accounts: 5 }, { id: 'e2', max_accounts: 5 }], { failover_after_ms: 600_000, down_after_ms: 3000, lease_ms: 3500, log_level: 'info' });
    // The accounts are already placed (as after an earlier run) and their files are on the workers.
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    const store = await openStore(join(dir, 'berth.sqlite'));
    const now = new Date().toISOString();
    for (const [server, ids] of Object.entries(SESSIONS)) {
      mkdirSync(sessionsDir(server), { recursive: true });
      for (const id of ids) {
        writeFileSync(join(sessionsDir(server), `${id}.session`), `session of ${id}`);
        await store.accounts.insert({ account_id: id, script_id: null, server_id: server, status: 'allocated', session_sha256: null, strategy: null, location: null }, now);
      }
    }
    await store.close();
    controller = new ControllerProcess(dir, writeConfig(dir, raw));
    await controller.ready().catch((e) => { console.log(controller.lines.join('\n')); throw e; });
    api = Api.for(controller.port);
  });

  after(async () => {
    for (const a of agents.values()) await a.stop('SIGKILL');
    if (controller?.proc.exitCode === null) {
      controller.kill('SIGKILL');
      await controller.exited();
    }
    removeDir(dir);
  });

  it('both servers appear healthy with live metrics and their session counts', async () => {
    startAgent('e1');
    startAgent('e2');
    for (const id of ['e1', 'e2']) {
      const r = await waitLive(id);
      for (const k of ['cpu_percent', 'memory_percent', 'disk_percent'] as const) expect(r[k], `${id} ${k}`).to.be.within(0, 100);
      expect(r.disk_percent, `${id} disk`).to.be.greaterThan(0);
      expect(r.eligible).to.equal(true);
      expect(r.accounts).to.equal(SESSIONS[id]!.length);
      expect(r.latency_ms).to.be.at.least(0);
      expect(r.consecutive_failures).to.equal(0);
    }
    const health = await Api.for(controller.port, null).get('/healthz');
    expect(health.body).to.include({ status: 'ok', agents_connected: 2, servers: 2, servers_healthy: 2 });
    const e2 = (await api.get('/servers/e2')).body;
    expect(e2.reported_account_ids).to.deep.equal(SESSIONS.e2);
    expect(e2.account_ids).to.deep.equal(SESSIONS.e2);
    const list = (await api.get('/servers')).body.servers as { server_id: string; connected: boolean; account_ids: string[] }[];
    expect(list.map((s) => [s.server_id, s.connected, s.account_ids])).to.deep.equal([['e1', true, SESSIONS.e1], ['e2', true, SESSIONS.e2]]);
    expect(e2.agent.sessions_dir).to.equal(sessionsDir('e2'));
  });

  it('a killed agent takes only its own server down; restarted, it comes back', async () => {
    await agents.get('e1')!.stop('SIGKILL');
    const down = await waitFor('e1 down', async () => {
      const r = (await rows()).get('e1')!;
      return r.healthy ? null : r;
    }, 10_000, 100);
    expect(down.eligible).to.equal(false);
    const e2 = (await rows()).get('e2')!;
    expect(e2.healthy).to.equal(true);
    // e2 keeps reporting: its report time moves on while e1 stays down.
    await waitFor('e2 reports again', async () => (await rows()).get('e2')!.last_report_at! > e2.last_report_at!, 5000, 100);
    expect((await rows()).get('e1')!.healthy).to.equal(false);

    startAgent('e1');
    const back = await waitLive('e1');
    expect(back.consecutive_failures).to.equal(0);
    expect((await rows()).get('e2')!.healthy).to.equal(true);
  });

  it('SIGTERM: the controller exits 0, the agents see close code 1001, the servers table keeps each server\'s report state', async () => {
    // e1 goes silent again, long enough to count a missed interval.
    await agents.get('e1')!.stop('SIGKILL');
    agents.delete('e1');
    const silent = await waitFor('e1 missing reports', async () => {
      const r = (await rows()).get('e1')!;
      return r.consecutive_failures >= 8 ? r : null;
    }, 15_000, 100);
    controller.kill('SIGTERM');
    expect(await controller.exited()).to.equal(0);
    const db = new Database(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      const saved = new Map((db.prepare('SELECT server_id, last_report_at, consecutive_failures FROM servers').all() as
        { server_id: string; last_report_at: string | null; consecutive_failures: number }[]).map((r) => [r.server_id, r]));
      expect(saved.get('e1')!.last_report_at).to.equal(silent.last_report_at);
      expect(saved.get('e1')!.consecutive_failures).to.be.at.least(silent.consecutive_failures);
      expect(saved.get('e2')!.last_report_at).to.be.a('string');
      // A live agent: at most a few reports late at the last tick (reports every 200 ms
      // here, missed 100 ms after due; a busy machine may hold one up), where the silent
      // one's count has grown past 8.
      expect(saved.get('e2')!.consecutive_failures).to.be.at.most(3);
    } finally {
      db.close();
    }
    for (const [id, agent] of agents) {
      const line = await waitFor(`${id} saw the close`, () => agent.lines
        .flatMap((l) => { try { return [JSON.parse(l) as { msg?: string; code?: number }]; } catch { return []; } })
        .find((l) => l.msg === 'controller connection closed' && l.code === 1001), 5000);
      expect(line.code).to.equal(1001);
    }
  });
});
