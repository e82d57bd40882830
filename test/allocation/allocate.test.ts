/**
 * POST /allocation/allocate against real sshd workers: the seed's request verbatim,
 * dry run and explain, manual placement, ALREADY_ALLOCATED, and path tricks.
 */
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { waitFor } from '../helpers/wait.js';
import type { SshdFixture } from '../helpers/sshd.js';
import {
  cleanWorkers, expectConsistent, expectedScore, modeOf, startRig, startSshds, workerDir, workerFiles, type Rig,
} from './helpers.js';

const SEED_ID = '639277356598';
const SCRIPT = '000新人欢迎剧本';
const F1 = { cpu_percent: 50, memory_percent: 40, disk_percent: 20 };
const F2 = { cpu_percent: 10, memory_percent: 20, disk_percent: 30 };
const F3 = { cpu_percent: 30, memory_percent: 30, disk_percent: 10 };

describe('allocation: POST /allocation/allocate', function () {
  this.timeout(30_000);
  let sshds: SshdFixture[];
  let rig: Rig;

  before(async () => {
    sshds = await startSshds(3);
  });
  after(async () => {
    await Promise.all(sshds.map((s) => s.dispose()));
  });
  beforeEach(async () => {
    cleanWorkers(sshds);
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, max_accounts: 5, figures: F1 },
      { id: 'w2', sshd: sshds[1]!, max_accounts: 5, figures: F2 },
      { id: 'w3', sshd: sshds[2]!, max_accounts: 5, figures: F3 },
    ]);
  });
  afterEach(async () => {
    await rig.close();
  });

  it("places the seed's request verbatim on the lowest-scored server, byte for byte, mode 0600, with a history row", async () => {
    const bytes = rig.seed(SEED_ID);
    const body = `{"account_id": "${SEED_ID}", "session_file": "sessions/${SEED_ID}.session", "script_id": "${SCRIPT}", "strategy": "load_balance"}`;
    const res = await rig.api.call('POST', '/allocation/allocate', body, { 'content-type': 'application/json' });
    expect(res.status, res.text).to.equal(201);
    // Scores: w1 = 15+12+2 = 29, w2 = 3+6+3 = 12, w3 = 9+9+1 = 19.
    expect(res.body).to.include({ account_id: SEED_ID, server_id: 'w2', allocation_type: 'initial', strategy: 'load_balance' });
    expect(res.body.load_score).to.equal(expectedScore(F2, 0, 5)).and.to.equal(12);
    expect(res.body.remote_path).to.equal(join(workerDir(sshds[1]!), `${SEED_ID}.session`));
    expect(res.body.reason).to.be.a('string').and.not.equal('');
    expect(res.body.duration_ms).to.be.a('number').and.at.least(0);
    expect(res.body).to.not.have.property('candidates');

    expect(readFileSync(res.body.remote_path).equals(bytes)).to.equal(true);
    expect(modeOf(res.body.remote_path)).to.equal(0o600);
    expect(workerFiles(sshds[1]!)).to.deep.equal([`${SEED_ID}.session`]);
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);
    expect(workerFiles(sshds[2]!)).to.deep.equal([]);

    const acc = await rig.api.get(`/accounts/${SEED_ID}`);
    expect(acc.body).to.include({ account_id: SEED_ID, script_id: SCRIPT, server_id: 'w2', status: 'allocated' });
    const byScript = await rig.api.get(`/accounts?script_id=${encodeURIComponent(SCRIPT)}`);
    expect(byScript.body.items.map((a: { account_id: string }) => a.account_id)).to.deep.equal([SEED_ID]);
    const hist = await rig.api.get(`/allocation/history?account_id=${SEED_ID}`);
    expect(hist.body.items).to.have.length(1);
    expect(hist.body.items[0]).to.include({ account_id: SEED_ID, server_id: 'w2', from_server_id: null, allocation_type: 'initial', strategy: 'load_balance', load_score: 12 });
    await expectConsistent(rig.api, SEED_ID, 'w2');

    // Point 6: the chosen server's agent was told, the others were not.
    await waitFor('the agent told its accounts', () => JSON.stringify(rig!.agents.get('w2')!.assigned) === JSON.stringify([SEED_ID]));
    expect(rig.agents.get('w1')!.assigns).to.deep.equal([]);
    expect(rig.agents.get('w3')!.assigns).to.deep.equal([]);
  });

  it('refuses a second allocation of the same account with 409 ALREADY_ALLOCATED and changes nothing', async () => {
    rig.seed('acc-1');
    expect((await rig.api.post('/allocation/allocate', { account_id: 'acc-1', session_file: 'acc-1.session' })).status).to.equal(201);
    const again = await rig.api.post('/allocation/allocate', { account_id: 'acc-1', session_file: 'acc-1.session', server_id: 'w1' });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('ALREADY_ALLOCATED');
    expect(again.body.error.details.server_id).to.equal('w2');
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);
    const hist = await rig.api.get('/allocation/history?account_id=acc-1');
    expect(hist.body.items).to.have.length(1);
    await expectConsistent(rig.api, 'acc-1', 'w2');
  });

  it('two concurrent allocations of one account: one places it, the other is 409; one copy exists', async () => {
    rig.seed('twin');
    const body = { account_id: 'twin', session_file: 'sessions/twin.session' };
    const [a, b] = await Promise.all([rig.api.post('/allocation/allocate', body), rig.api.post('/allocation/allocate', { ...body, server_id: 'w3' })]);
    expect([a.status, b.status].sort()).to.deep.equal([201, 409]);
    const placed = a.status === 201 ? a.body.server_id : b.body.server_id;
    const copies = sshds.flatMap((s) => workerFiles(s)).filter((f) => f.startsWith('twin'));
    expect(copies).to.deep.equal(['twin.session']);
    expect((await rig.api.get('/allocation/history?account_id=twin')).body.items).to.have.length(1);
    await expectConsistent(rig.api, 'twin', placed);
  });

  it('a dry run with explain answers 200 with every candidate and changes nothing', async () => {
    const bytes = rig.seed('dry-1');
    const res = await rig.api.post('/allocation/allocate', { account_id: 'dry-1', session_file: 'sessions/dry-1.session', dry_run: true, explain: true });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ dry_run: true, server_id: 'w2', load_score: 12, allocation_type: 'initial' });
    expect(res.body.candidates.map((c: { server_id: string }) => c.server_id).sort()).to.deep.equal(['w1', 'w2', 'w3']);
    const w1 = res.body.candidates.find((c: { server_id: string }) => c.server_id === 'w1');
    expect(w1.eligible).to.equal(true);
    expect(w1.load_score).to.equal(29);
    expect(w1.breakdown).to.have.keys('cpu', 'memory', 'accounts', 'disk', 'total');

    for (const s of sshds) expect(workerFiles(s)).to.deep.equal([]);
    expect((await rig.api.get('/accounts/dry-1')).status).to.equal(404);
    expect((await rig.api.get('/allocation/history')).body.items).to.deep.equal([]);
    expect(readFileSync(join(rig.dir, 'sessions', 'dry-1.session')).equals(bytes)).to.equal(true);
    for (const a of rig.agents.values()) expect(a.assigns).to.deep.equal([]);
    expect(rig.controller.fleet.servers.map((s) => s.accounts)).to.deep.equal([0, 0, 0]);
  });

  it('explain on a real placement lists every server with its reasons', async () => {
    rig.seed('ex-1');
    await rig.api.post('/servers/w3/cordon');
    const res = await rig.api.post('/allocation/allocate', { account_id: 'ex-1', session_file: 'ex-1.session', explain: true });
    expect(res.status, res.text).to.equal(201);
    const w3 = res.body.candidates.find((c: { server_id: string }) => c.server_id === 'w3');
    expect(w3.eligible).to.equal(false);
    expect(w3.reasons.join(' ')).to.match(/disabled|status/);
  });

  it('manual server_id places on that server (allocation_type manual); an unknown one is 404', async () => {
    rig.seed('man-1');
    const res = await rig.api.post('/allocation/allocate', { account_id: 'man-1', session_file: 'man-1.session', server_id: 'w1' });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ server_id: 'w1', allocation_type: 'manual' });
    expect(workerFiles(sshds[0]!)).to.deep.equal(['man-1.session']);
    const hist = await rig.api.get('/allocation/history?allocation_type=manual');
    expect(hist.body.items.map((h: { account_id: string }) => h.account_id)).to.deep.equal(['man-1']);
    await expectConsistent(rig.api, 'man-1', 'w1');

    rig.seed('man-2');
    const unknown = await rig.api.post('/allocation/allocate', { account_id: 'man-2', session_file: 'man-2.session', server_id: 'w9' });
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal('SERVER_NOT_FOUND');
    expect((await rig.api.get('/accounts/man-2')).status).to.equal(404);
  });

  it('a session file missing from the store is 404 SESSION_FILE_NOT_FOUND', async () => {
    const res = await rig.api.post('/allocation/allocate', { account_id: 'nofile', session_file: 'sessions/nofile.session' });
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('SESSION_FILE_NOT_FOUND');
    expect((await rig.api.get('/accounts/nofile')).status).to.equal(404);
  });

  it('refuses session paths that leave the store and account ids that are paths, creating nothing', async () => {
    const outside = join(rig.dir, 'outside.session');
    writeFileSync(outside, 'secret outside the store');
    symlinkSync(outside, join(rig.dir, 'sessions', 'link.session'));
    const tricks = ['../x', '../outside.session', '/etc/passwd', 'sessions/../../etc/passwd', 'sessions/../outside.session', 'link.session', 'sessions/link.session', '.', 'sessions/./../outside.session'];
    for (const sessionFile of tricks) {
      const res = await rig.api.post('/allocation/allocate', { account_id: 'trick-1', session_file: sessionFile });
      expect(res.status, `session_file ${sessionFile}: ${res.text}`).to.equal(400);
      expect(res.body.error.code).to.equal('INVALID_REQUEST');
      expect(res.text).to.not.include('secret outside');
    }
    rig.seed('good');
    for (const accountId of ['../x', '..', 'a/b', '/etc/passwd', '.hidden', 'x\u0000y', '']) {
      const res = await rig.api.post('/allocation/allocate', { account_id: accountId, session_file: 'good.session' });
      expect(res.status, `account_id ${JSON.stringify(accountId)}`).to.equal(400);
      expect(res.body.error.code).to.equal('INVALID_REQUEST');
    }
    for (const s of sshds) expect(workerFiles(s)).to.deep.equal([]);
    expect((await rig.api.get('/accounts')).body.items).to.deep.equal([]);
    expect((await rig.api.get('/allocation/history')).body.items).to.deep.equal([]);
    expect(readFileSync(outside, 'utf8')).to.equal('secret outside the store');
  });

  it('refuses a body with unknown fields or a wrong type with 400', async () => {
    rig.seed('bad-1');
    for (const body of [{ account_id: 'bad-1', session_file: 'bad-1.session', colour: 'red' }, { account_id: 'bad-1', strategy: 'fastest' }, { account_id: 42 }, {}]) {
      const res = await rig.api.post('/allocation/allocate', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.code).to.equal('INVALID_REQUEST');
    }
  });
});
