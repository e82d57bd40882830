/**
 * Each placement strategy (SPEC §3) end to end: real uploads to the server the strategy
 * picks, with the strategy and its reason in the answer and in the history.
 */
import { expect } from 'chai';
import type { SshdFixture } from '../helpers/sshd.js';
import { cleanWorkers, expectConsistent, startRig, startSshds, workerFiles, type Rig } from './helpers.js';

// Scores with no accounts: w1 29 (LA), w2 12 (Tokyo), w3 19 (LA); 6 points per account (max 5).
const F1 = { cpu_percent: 50, memory_percent: 40, disk_percent: 20 };
const F2 = { cpu_percent: 10, memory_percent: 20, disk_percent: 30 };
const F3 = { cpu_percent: 30, memory_percent: 30, disk_percent: 10 };

describe('allocation: strategies', function () {
  this.timeout(30_000);
  let sshds: SshdFixture[];
  let rig: Rig | undefined;

  before(async () => {
    sshds = await startSshds(3);
  });
  after(async () => {
    await Promise.all(sshds.map((s) => s.dispose()));
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  async function start(controller: Record<string, unknown> = {}): Promise<Rig> {
    cleanWorkers(sshds);
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, max_accounts: 5, location: 'LA', figures: F1 },
      { id: 'w2', sshd: sshds[1]!, max_accounts: 5, location: 'Tokyo', figures: F2 },
      { id: 'w3', sshd: sshds[2]!, max_accounts: 5, location: 'LA', figures: F3 },
    ], controller);
    return rig;
  }

  async function allocate(r: Rig, id: string, extra: Record<string, unknown>): Promise<{ status: number; body: any; text: string }> {
    r.seed(id);
    return r.api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session`, ...extra });
  }

  it('location: the lowest score in the location; none there falls back and says so; strict refuses', async () => {
    const r = await start();
    const la = await allocate(r, 'loc-1', { strategy: 'location', location: 'LA' });
    expect(la.status, la.text).to.equal(201);
    expect(la.body).to.include({ server_id: 'w3', strategy: 'location', load_score: 19 });
    expect(la.body.reason).to.include('LA');
    expect(workerFiles(sshds[2]!)).to.deep.equal(['loc-1.session']);

    const paris = await allocate(r, 'loc-2', { strategy: 'location', location: 'Paris' });
    expect(paris.status, paris.text).to.equal(201);
    expect(paris.body.server_id).to.equal('w2');
    expect(paris.body.reason).to.match(/fell back to load_balance/);
    const hist = await r.api.get('/allocation/history?account_id=loc-2');
    expect(hist.body.items[0].reason).to.match(/fell back/);

    const strict = await allocate(r, 'loc-3', { strategy: 'location', location: 'Paris', strict: true });
    expect(strict.status, strict.text).to.equal(503);
    expect(strict.body.error.code).to.equal('NO_ELIGIBLE_SERVER');
    expect(strict.body.error.details.servers).to.have.length(3);
    expect((await r.api.get('/accounts/loc-3')).status).to.equal(404);
    await expectConsistent(r.api, 'loc-1', 'w3');
    await expectConsistent(r.api, 'loc-2', 'w2');
  });

  it('affinity: joins the servers already running the script, else falls back to load_balance', async () => {
    const r = await start();
    expect((await allocate(r, 'aff-0', { script_id: 'S', server_id: 'w1' })).status).to.equal(201);
    const joined = await allocate(r, 'aff-1', { script_id: 'S', strategy: 'affinity' });
    expect(joined.status, joined.text).to.equal(201);
    expect(joined.body).to.include({ server_id: 'w1', strategy: 'affinity', load_score: 35 });
    expect(joined.body.reason).to.include('already running script S');
    const lone = await allocate(r, 'aff-2', { script_id: 'T', strategy: 'affinity' });
    expect(lone.body.server_id).to.equal('w2');
    expect(lone.body.reason).to.match(/fell back to load_balance/);
    expect(workerFiles(sshds[0]!)).to.deep.equal(['aff-0.session', 'aff-1.session']);
    await expectConsistent(r.api, 'aff-1', 'w1');
  });

  it('isolation (as default_strategy): one script spreads over servers and locations; load_balance would pile up', async () => {
    const r = await start({ default_strategy: 'isolation' });
    const placed: string[] = [];
    for (const id of ['iso-1', 'iso-2', 'iso-3']) {
      const res = await allocate(r, id, { script_id: 'Z' });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.strategy).to.equal('isolation');
      placed.push(res.body.server_id);
    }
    // w2 is best; then w3 (its location LA holds none of Z, lower score than w1); then w1 (holds none).
    expect(placed).to.deep.equal(['w2', 'w3', 'w1']);
    const lb = await allocate(r, 'lb-1', { script_id: 'Z', strategy: 'load_balance', dry_run: true });
    expect(lb.body.server_id).to.equal('w2');
    for (const s of sshds) expect(workerFiles(s)).to.have.length(1);
    const hist = await r.api.get('/allocation/history?allocation_type=initial');
    expect(hist.body.items.map((h: { strategy: string }) => h.strategy)).to.deep.equal(['isolation', 'isolation', 'isolation']);
  });
});
