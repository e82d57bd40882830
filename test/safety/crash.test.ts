/**
 * Crash safety: the controller is killed with SIGKILL in the middle of a burst of
 * allocations, then started again. The workers and the database must agree afterwards
 * and no session may have been live on two workers at any moment.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess, Api, ControllerProcess, fixtureConfig, writeConfig, type WorkerSpec } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { LiveSampler, liveIds } from './live-sampler.js';
import SQLite from 'better-sqlite3';

describe('safety: controller killed with SIGKILL during a burst of allocations', function () {
  this.timeout(120_000);
  const sshds: SshdFixture[] = [];
  const agents: AgentProcess[] = [];
  let dir: string;
  let controller: ControllerProcess | null = null;
  let sampler: LiveSampler | null = null;

  after(async () => {
    await sampler?.stop();
    for (const a of agents) await a.stop('SIGKILL');
    controller?.kill('SIGKILL');
    for (const s of sshds) await s.dispose();
    if (dir) removeDir(dir);
  });

  it('restarts into a state where the database and the workers agree', async () => {
    dir = tempDir('berth-crash-');
    const specs: WorkerSpec[] = [];
    const dirs: Record<string, string> = {};
    for (let i = 0; i < 3; i++) {
      const sshd = await startSshd({ host: `127.0.0.${i + 2}` });
      sshds.push(sshd);
      specs.push({ id: `w${i + 1}`, sshd, max_accounts: 20 });
      dirs[`w${i + 1}`] = join(sshd.deployDir, 'sessions');
      mkdirSync(dirs[`w${i + 1}`]!, { recursive: true });
    }
    // A fixed port, so the agents find the restarted controller where they left it.
    const probe = await startSshd({ host: '127.0.0.1' });
    const port = probe.port;
    await probe.dispose();
    const cfg = fixtureConfig(dir, specs, { listen: `127.0.0.1:${port}`, log_level: 'info' });
    const file = writeConfig(dir, cfg);
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    const ids = Array.from({ length: 40 }, (_, i) => `crash${String(i).padStart(2, '0')}`);
    for (const id of ids) writeFileSync(join(dir, 'sessions', `${id}.session`), `session-${id}`);

    controller = await new ControllerProcess(dir, file).ready();
    for (const s of specs) agents.push(new AgentProcess({ port, id: s.id, sessionsDir: dirs[s.id]!, dir }));
    const api = Api.for(port);
    await waitFor('three healthy servers', async () => {
      const r = await api.get('/allocation/rankings');
      return r.status === 200 && r.body.servers.filter((s: { healthy: boolean }) => s.healthy).length === 3;
    }, 20_000);

    sampler = await new LiveSampler(dirs).start();
    let ok = 0;
    const burst = ids.map((id) => api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session` })
      .then((r) => { if (r.status === 201) ok++; }, () => undefined));
    await waitFor('some allocations done', () => ok >= 8, 20_000, 1);
    controller.kill('SIGKILL');
    await controller.exited();
    await Promise.all(burst);
    expect(ok).to.be.lessThan(ids.length);
    {
      // The kill really cut moves short: the journal holds unfinished placements.
      const before = new SQLite(join(dir, 'berth.sqlite'));
      const journal = (before.prepare('SELECT COUNT(*) AS n FROM moves').get() as { n: number }).n;
      before.close();
      expect(journal).to.be.greaterThan(0);
    }

    controller = await new ControllerProcess(dir, file).ready();
    await waitFor('agents back', async () => {
      const r = await api.get('/allocation/rankings');
      return r.status === 200 && r.body.servers.filter((s: { healthy: boolean }) => s.healthy).length === 3;
    }, 30_000);
    const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      await waitFor('unfinished moves recovered', () => (db.prepare('SELECT COUNT(*) AS n FROM moves').get() as { n: number }).n === 0, 30_000);
      // Give the agents' first reports after welcome a moment to be checked for drift.
      await sleep(1500);
      await sampler.stop();
      expect(sampler.duplicates).to.deep.equal([]);

      const rows = db.prepare('SELECT account_id, server_id, status FROM accounts').all() as { account_id: string; server_id: string | null; status: string }[];
      const dbServer = new Map(rows.map((r) => [r.account_id, r.server_id]));
      expect(rows.filter((r) => r.server_id).length).to.be.at.least(ok);
      for (const [server, d] of Object.entries(dirs)) {
        for (const id of liveIds(d)) expect(dbServer.get(id), `${id} live on ${server}`).to.equal(server);
      }
      for (const r of rows) {
        if (r.server_id) expect(liveIds(dirs[r.server_id]!), `${r.account_id} on ${r.server_id}`).to.include(r.account_id);
        else expect(r.status).to.equal('pending');
      }
      // Every placed account's history ends with it on that server.
      for (const r of rows.filter((x) => x.server_id)) {
        const h = db.prepare('SELECT server_id FROM allocation_history WHERE account_id = ? ORDER BY id DESC LIMIT 1').get(r.account_id) as { server_id: string };
        expect(h.server_id).to.equal(r.server_id);
      }
    } finally {
      db.close();
    }
    controller.kill('SIGTERM');
    expect(await controller.exited()).to.equal(0);
  });
});
