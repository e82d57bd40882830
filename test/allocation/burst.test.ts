/**
 * Concurrent allocations: placements in flight count on their server (SPEC §3), so a
 * burst spreads exactly as the scores with in-flight counts predict and never exceeds
 * `max_accounts`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { waitFor } from '../helpers/wait.js';
import type { SshdFixture } from '../helpers/sshd.js';
import type { FakeFigures } from './fake-agent.js';
import { cleanWorkers, expectConsistent, modeOf, startRig, startSshds, workerDir, workerFiles, type Rig } from './helpers.js';

/**
 * The expected spread of `n` placements, one after another, each on the server with the
 * lowest SPEC score counting the placements before it (ties by id).
 */
function predict(servers: { id: string; f: FakeFigures; max: number }[], n: number): Record<string, number> {
  const count: Record<string, number> = Object.fromEntries(servers.map((s) => [s.id, 0]));
  const score = (s: { id: string; f: FakeFigures; max: number }) =>
    0.3 * s.f.cpu_percent + 0.3 * s.f.memory_percent + 0.3 * (count[s.id]! / s.max) * 100 + 0.1 * s.f.disk_percent;
  for (let i = 0; i < n; i++) {
    const open = servers.filter((s) => count[s.id]! < s.max);
    open.sort((a, b) => score(a) - score(b) || (a.id < b.id ? -1 : 1));
    count[open[0]!.id]!++;
  }
  return count;
}

describe('allocation: a burst of concurrent allocations', function () {
  this.timeout(40_000);
  let sshds: SshdFixture[];
  let rig: Rig | undefined;

  before(async () => {
    sshds = await startSshds(3);
  });
  after(async () => {
    await Promise.all(sshds.map((s) => s.dispose()));
  });
  beforeEach(() => cleanWorkers(sshds));
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  async function burst(r: Rig, ids: string[]): Promise<{ status: number; body: any }[]> {
    const bytes = new Map(ids.map((id) => [id, r.seed(id)]));
    const res = await Promise.all(ids.map((id) => r.api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session` })));
    for (const [i, x] of res.entries()) {
      if (x.status !== 201) continue;
      const sshd = sshds[Number(x.body.server_id.slice(1)) - 1]!;
      const path = join(workerDir(sshd), `${ids[i]}.session`);
      expect(readFileSync(path).equals(bytes.get(ids[i]!)!), `bytes of ${ids[i]}`).to.equal(true);
      expect(modeOf(path)).to.equal(0o600);
    }
    return res;
  }

  it('identical servers with max_accounts 4: 12 concurrent allocations land 4 on each; the 13th is 503 with every reason', async () => {
    const f = { cpu_percent: 20, memory_percent: 20, disk_percent: 20 };
    rig = await startRig(['w1', 'w2', 'w3'].map((id, i) => ({ id, sshd: sshds[i]!, max_accounts: 4, figures: f })));
    const ids = Array.from({ length: 12 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    const res = await burst(rig, ids);
    expect(res.map((x) => x.status)).to.deep.equal(ids.map(() => 201));
    const by: Record<string, string[]> = {};
    for (const x of res) (by[x.body.server_id] ??= []).push(x.body.account_id);
    expect(Object.keys(by).sort()).to.deep.equal(['w1', 'w2', 'w3']);
    for (const [i, s] of sshds.entries()) {
      const id = `w${i + 1}`;
      expect(by[id], id).to.have.length(4);
      expect(workerFiles(s)).to.deep.equal(by[id]!.map((a) => `${a}.session`).sort());
      // Point 6: the agent's last assign is exactly what the server holds.
      await waitFor('the agent told its accounts', () => JSON.stringify(rig!.agents.get(id)!.assigned) === JSON.stringify([...by[id]!].sort()));
    }
    for (const x of res) await expectConsistent(rig.api, x.body.account_id, x.body.server_id);

    rig.seed('burst-13');
    const over = await rig.api.post('/allocation/allocate', { account_id: 'burst-13', session_file: 'burst-13.session' });
    expect(over.status, over.text).to.equal(503);
    expect(over.body.error.code).to.equal('NO_ELIGIBLE_SERVER');
    const servers = over.body.error.details.servers as { server_id: string; eligible: boolean; reasons: string[] }[];
    expect(servers.map((s) => s.server_id).sort()).to.deep.equal(['w1', 'w2', 'w3']);
    for (const s of servers) {
      expect(s.eligible).to.equal(false);
      expect(s.reasons.join('; ')).to.include('4/4');
    }
    expect((await rig.api.get('/accounts/burst-13')).status).to.equal(404);
    for (const s of sshds) expect(workerFiles(s)).to.have.length(4);
  });

  it('unequal servers: the burst spreads exactly as scores with in-flight counts predict', async () => {
    // Bases 7, 13 and 21.5; each account adds 0.3 · 100/6 = 5 points. No exact ties.
    const specs = [
      { id: 'w1', f: { cpu_percent: 10, memory_percent: 10, disk_percent: 10 }, max: 6 },
      { id: 'w2', f: { cpu_percent: 20, memory_percent: 20, disk_percent: 10 }, max: 6 },
      { id: 'w3', f: { cpu_percent: 40, memory_percent: 30, disk_percent: 5 }, max: 6 },
    ];
    const expected = predict(specs, 12);
    expect(expected).to.deep.equal({ w1: 5, w2: 4, w3: 3 });
    rig = await startRig(specs.map((s, i) => ({ id: s.id, sshd: sshds[i]!, max_accounts: s.max, figures: s.f })));
    const ids = Array.from({ length: 12 }, (_, i) => `u-${String(i).padStart(2, '0')}`);
    const res = await burst(rig, ids);
    expect(res.map((x) => x.status)).to.deep.equal(ids.map(() => 201));
    const counts: Record<string, number> = { w1: 0, w2: 0, w3: 0 };
    for (const x of res) counts[x.body.server_id]!++;
    expect(counts).to.deep.equal(expected);
    for (const [i, s] of sshds.entries()) expect(workerFiles(s)).to.have.length(expected[`w${i + 1}`]!);
    // Each decision's load_score is its server's score before that account counted:
    // the scores a server answered with are its base plus 5 per account before it.
    for (const spec of specs) {
      const scores = res.filter((x) => x.body.server_id === spec.id).map((x) => x.body.load_score).sort((a, b) => a - b);
      const base = 0.3 * spec.f.cpu_percent + 0.3 * spec.f.memory_percent + 0.1 * spec.f.disk_percent;
      expect(scores).to.deep.equal(scores.map((_, k) => Math.round((base + 5 * k) * 100) / 100));
    }
    for (const x of res) await expectConsistent(rig.api, x.body.account_id, x.body.server_id);
  });
});
