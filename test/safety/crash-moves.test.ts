/**
 * Crash safety during moves: the controller is killed with SIGKILL in the middle of a
 * drain, and again of a rebalance (fence, collect, re-place, several at a time), then
 * started again. Every unfinished move is completed or rolled back; the workers and the
 * database agree; no session was live on two workers at any moment; each copy is the
 * runner's last write.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Api } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { LiveSampler, liveIds } from './live-sampler.js';
import { journalSize, ProcessFleet } from './process-fleet.js';

interface Case {
  /** The flow the kill cuts short, as its history rows are typed. */
  flow: 'drain' | 'rebalance';
  prefix: string;
  /** Starts the flow off w1 without waiting for it. */
  start(api: Api): Promise<unknown>;
}

const cases: Case[] = [
  { flow: 'drain', prefix: 'cd', start: (api) => api.post('/servers/w1/drain') },
  // w1 holds every account: its score is far above the others', so a rebalance with a
  // low threshold moves accounts off it, several at a time.
  { flow: 'rebalance', prefix: 'cr', start: (api) => api.post('/allocation/rebalance', { threshold: 1 }) },
];

for (const c of cases) {
  describe(`safety: controller killed with SIGKILL during a ${c.flow}`, function () {
    this.timeout(120_000);
    let fleet: ProcessFleet | null = null;
    let sampler: LiveSampler | null = null;

    after(async () => {
      await sampler?.stop();
      await fleet?.dispose();
    });

    it('restarts into agreement: each cut move completed or rolled back', async () => {
      // Scores from account counts alone: every worker reports the same machine, at
      // different moments; cpu readings would only add noise to the rebalance's spread.
      fleet = await ProcessFleet.start(3, { maxAccounts: 30, controller: { failover_after_ms: 600_000, weights: { cpu: 0, memory: 0, accounts: 1, disk: 0 } } });
      const { dir, dirs, api } = fleet;
      const ids = Array.from({ length: 24 }, (_, i) => `${c.prefix}${String(i).padStart(2, '0')}`);
      for (const id of ids) writeFileSync(join(dir, 'sessions', `${id}.session`), `session-${id}`);
      for (const id of ids) {
        const r = await api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session`, server_id: 'w1' });
        expect(r.status, r.text).to.equal(201);
      }
      // What the runner last wrote on w1 is what must follow each account.
      for (const id of ids) writeFileSync(join(dirs.w1!, `${id}.session`), `runner-${id}`);

      sampler = await new LiveSampler(dirs).start();
      void c.start(api).catch(() => undefined);
      await waitFor(`a few ${c.flow} moves done and more under way`, async () => {
        const h = await api.get(`/allocation/history?allocation_type=${c.flow}`);
        // The journal is read last, so the kill follows a read that saw moves under way.
        return h.status === 200 && h.body.items.length >= 3 && journalSize(dir) > 0;
      }, 20_000, 5);
      await fleet.killController();
      expect(journalSize(dir), 'the kill cut moves short').to.be.greaterThan(0);

      // A drain cut short goes on after the restart until w1 is empty (SPEC §2: a
      // draining server's accounts are moved away); a rebalance is not resumed.
      await fleet.restartAndSettle(sampler, c.flow === 'drain'
        ? { what: 'the drain carried on to the end', done: () => fleet!.accounts().every((r) => r.server_id !== 'w1') }
        : undefined);
      expect(sampler.duplicates).to.deep.equal([]);

      const rows = fleet.accounts();
      expect(rows).to.have.length(ids.length);
      fleet.expectWorkersAgree(rows);
      if (c.flow === 'drain') expect(liveIds(dirs.w1!), 'left on drained w1').to.deep.equal([]);
      if (c.flow === 'rebalance') {
        // The moves committed before the kill stay done: accounts left w1.
        expect(rows.filter((r) => r.server_id !== 'w1').length, 'accounts moved off w1').to.be.at.least(3);
      }
      for (const r of rows) {
        expect(r.server_id, `${r.account_id} placed`).to.be.a('string');
        // Moved, rolled back or restored: the copy is the runner's last write.
        expect(readFileSync(join(dirs[r.server_id!]!, `${r.account_id}.session`), 'utf8')).to.equal(`runner-${r.account_id}`);
      }
    });
  });
}
