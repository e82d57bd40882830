/**
 * Crash safety during moves: the controller is killed with SIGKILL in the middle of a
 * drain (fence, collect, re-place, four at a time), then started again. Every unfinished
 * move is completed or rolled back; the workers and the database agree; no session was
 * live on two workers at any moment.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { AgentProcess, Api, ControllerProcess, fixtureConfig, writeConfig, type WorkerSpec } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { LiveSampler, liveIds } from './live-sampler.js';

describe('safety: controller killed with SIGKILL during a drain', function () {
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

  it('restarts into agreement: each cut move completed or rolled back', async () => {
    dir = tempDir('berth-crash-drain-');
    const specs: WorkerSpec[] = [];
    const dirs: Record<string, string> = {};
    for (let i = 0; i < 3; i++) {
      const sshd = await startSshd({ host: `127.0.0.${i + 2}` });
      sshds.push(sshd);
      const id = `w${i + 1}`;
      specs.push({ id, sshd, max_accounts: 30 });
      dirs[id] = join(sshd.deployDir, 'sessions');
      mkdirSync(dirs[id]!, { recursive: true });
    }
    const probe = await startSshd({ host: '127.0.0.1' });
    const port = probe.port;
    await probe.dispose();
    const file = writeConfig(dir, fixtureConfig(dir, specs, { listen: `127.0.0.1:${port}`, log_level: 'info', failover_after_ms: 600_000 }));
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    const ids = Array.from({ length: 24 }, (_, i) => `cd${String(i).padStart(2, '0')}`);
    for (const id of ids) writeFileSync(join(dir, 'sessions', `${id}.session`), `session-${id}`);

    controller = await new ControllerProcess(dir, file).ready();
    for (const s of specs) agents.push(new AgentProcess({ port, id: s.id, sessionsDir: dirs[s.id]!, dir }));
    const api = Api.for(port);
    const healthy = async () => {
      const r = await api.get('/allocation/rankings');
      return r.status === 200 && r.body.servers.filter((s: { healthy: boolean }) => s.healthy).length === 3;
    };
    await waitFor('three healthy servers', healthy, 20_000);
    for (const id of ids) {
      const r = await api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session`, server_id: 'w1' });
      expect(r.status, r.text).to.equal(201);
    }
    // What the runner last wrote on w1 is what must follow each account.
    for (const id of ids) writeFileSync(join(dirs.w1!, `${id}.session`), `runner-${id}`);

    sampler = await new LiveSampler(dirs).start();
    void api.post('/servers/w1/drain').catch(() => undefined);
    await waitFor('a few drain moves done', async () => {
      const h = await api.get('/allocation/history?allocation_type=drain');
      return h.status === 200 && h.body.items.length >= 3;
    }, 20_000, 5);
    controller.kill('SIGKILL');
    await controller.exited();
    {
      const db = new SQLite(join(dir, 'berth.sqlite'));
      const journal = (db.prepare('SELECT COUNT(*) AS n FROM moves').get() as { n: number }).n;
      db.close();
      expect(journal, 'the kill cut moves short').to.be.greaterThan(0);
    }

    controller = await new ControllerProcess(dir, file).ready();
    await waitFor('agents back', healthy, 30_000);
    const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      await waitFor('unfinished moves settled', () => (db.prepare('SELECT COUNT(*) AS n FROM moves').get() as { n: number }).n === 0, 30_000);
      await sleep(1500);
      await sampler.stop();
      expect(sampler.duplicates).to.deep.equal([]);
      const rows = db.prepare('SELECT account_id, server_id FROM accounts').all() as { account_id: string; server_id: string | null }[];
      expect(rows).to.have.length(ids.length);
      const where = new Map(rows.map((r) => [r.account_id, r.server_id]));
      for (const [server, d] of Object.entries(dirs)) {
        for (const id of liveIds(d)) expect(where.get(id), `${id} live on ${server}`).to.equal(server);
      }
      for (const r of rows) {
        expect(r.server_id, `${r.account_id} placed`).to.be.a('string');
        expect(liveIds(dirs[r.server_id!]!), `${r.account_id} on ${r.server_id}`).to.include(r.account_id);
        // Moved, rolled back or restored: the copy is the runner's last write.
        expect(readFileSync(join(dirs[r.server_id!]!, `${r.account_id}.session`), 'utf8')).to.equal(`runner-${r.account_id}`);
      }
    } finally {
      db.close();
    }
  });
});
