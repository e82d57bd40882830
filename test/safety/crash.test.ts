/**
 * Crash safety: the controller is killed with SIGKILL in the middle of a burst of
 * allocations, then started again. The workers and the database must agree afterwards
 * and no session may have been live on two workers at any moment.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { waitFor } from '../helpers/wait.js';
import { LiveSampler } from './live-sampler.js';
import { journalSize, ProcessFleet } from './process-fleet.js';

describe('safety: controller killed with SIGKILL during a burst of allocations', function () {
  this.timeout(120_000);
  let fleet: ProcessFleet | null = null;
  let sampler: LiveSampler | null = null;

  after(async () => {
    await sampler?.stop();
    await fleet?.dispose();
  });

  it('restarts into a state where the database and the workers agree', async () => {
    fleet = await ProcessFleet.start(3, { maxAccounts: 80 });
    const { dir, dirs, api } = fleet;
    const ids = Array.from({ length: 160 }, (_, i) => `crash${String(i).padStart(3, '0')}`);
    for (const id of ids) writeFileSync(join(dir, 'sessions', `${id}.session`), `session-${id}`);

    sampler = await new LiveSampler(dirs).start();
    // A steady stream, CONCURRENCY requests in flight until the kill: a burst fired all
    // at once can finish between two polls on a fast machine, leaving nothing to cut.
    const CONCURRENCY = 8;
    let ok = 0;
    let next = 0;
    let killed = false;
    const lane = async (): Promise<void> => {
      while (!killed && next < ids.length) {
        const id = ids[next++]!;
        const r = await api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session` }).catch(() => null);
        if (r?.status === 201) ok++;
      }
    };
    const burst = Array.from({ length: CONCURRENCY }, lane);
    // Kill in the same turn as a read that saw placements under way.
    await waitFor('some allocations done and more under way', () => ok >= 8 && journalSize(dir) > 0, 30_000, 1);
    killed = true;
    await fleet.killController();
    await Promise.all(burst);
    expect(ok).to.be.lessThan(ids.length);
    expect(journalSize(dir), 'the kill cut placements short').to.be.greaterThan(0);

    await fleet.restartAndSettle(sampler);
    expect(sampler.duplicates).to.deep.equal([]);

    const rows = fleet.accounts();
    expect(rows.filter((r) => r.server_id).length).to.be.at.least(ok);
    fleet.expectWorkersAgree(rows);
    for (const r of rows) if (!r.server_id) expect(r.status).to.equal('pending');
    // Every placed account's history ends with it on that server.
    const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      for (const r of rows.filter((x) => x.server_id)) {
        const h = db.prepare('SELECT server_id FROM allocation_history WHERE account_id = ? ORDER BY id DESC LIMIT 1').get(r.account_id) as { server_id: string };
        expect(h.server_id).to.equal(r.server_id);
      }
    } finally {
      db.close();
    }
    fleet.controller!.kill('SIGTERM');
    expect(await fleet.controller!.exited()).to.equal(0);
  });
});
