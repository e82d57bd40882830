/**
 * The accounts API (SPEC §5) end to end against real sshd workers: create (placed, or
 * pending and retried), list with filters and cursor pages, read, replace the stored
 * session, release; and GET /allocation/history with its filters and pages.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Api, VIEWER_TOKEN } from '../helpers/controller-fixture.js';
import type { SshdFixture } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';
import { cleanWorkers, expectConsistent, modeOf, startMute, startRig, startSshds, workerDir, workerFiles, type MuteServer, type Rig } from './helpers.js';

const LOW = { cpu_percent: 10, memory_percent: 10, disk_percent: 10 };
const HIGH = { cpu_percent: 40, memory_percent: 40, disk_percent: 10 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('allocation: the accounts API', function () {
  this.timeout(30_000);
  let sshds: SshdFixture[];
  let rig: Rig | undefined;
  let hole: MuteServer | undefined;

  before(async () => {
    sshds = await startSshds(2);
  });
  after(async () => {
    await Promise.all(sshds.map((s) => s.dispose()));
  });
  beforeEach(() => cleanWorkers(sshds));
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await hole?.close();
    hole = undefined;
  });

  const two = () => startRig([
    { id: 'w1', sshd: sshds[0]!, max_accounts: 10, figures: LOW },
    { id: 'w2', sshd: sshds[1]!, max_accounts: 10, figures: HIGH },
  ]);

  it('POST /accounts with session_base64 or session_file creates and places the account (201)', async () => {
    rig = await two();
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
    const a = await rig.api.post('/accounts', { account_id: 'acc-a', script_id: 'S', session_base64: bytes.toString('base64') });
    expect(a.status, a.text).to.equal(201);
    expect(a.body.account).to.include({ account_id: 'acc-a', script_id: 'S', server_id: 'w1', status: 'allocated', session_sha256: sha(bytes) });
    expect(a.body.allocation).to.include({ account_id: 'acc-a', server_id: 'w1', allocation_type: 'initial' });
    const remote = join(workerDir(sshds[0]!), 'acc-a.session');
    expect(readFileSync(remote).equals(bytes)).to.equal(true);
    expect(modeOf(remote)).to.equal(0o600);
    expect(readFileSync(join(rig.dir, 'sessions', 'acc-a.session')).equals(bytes)).to.equal(true);

    const seeded = rig.seed('acc-b');
    const b = await rig.api.post('/accounts', { account_id: 'acc-b', session_file: 'sessions/acc-b.session' });
    expect(b.status, b.text).to.equal(201);
    expect(b.body.account.session_sha256).to.equal(sha(seeded));
    expect(readFileSync(join(workerDir(sshds[0]!), 'acc-b.session')).equals(seeded)).to.equal(true);
    await waitFor('the agent told its accounts', () => JSON.stringify(rig!.agents.get('w1')!.assigned) === JSON.stringify(['acc-a', 'acc-b']));

    const dup = await rig.api.post('/accounts', { account_id: 'acc-a', session_base64: bytes.toString('base64') });
    expect(dup.status).to.equal(409);
    const trick = await rig.api.post('/accounts', { account_id: 'acc-c', session_file: '../master_config.json' });
    expect(trick.status).to.equal(400);
    expect((await rig.api.get('/accounts/acc-c')).status).to.equal(404);
    const viewer = new Api(rig.api.base, VIEWER_TOKEN);
    expect((await viewer.post('/accounts', { account_id: 'acc-v', session_base64: 'AAAA' })).status).to.equal(403);
    expect((await viewer.get('/accounts/acc-a')).status).to.equal(200);
    await expectConsistent(rig.api, 'acc-a', 'w1');
    await expectConsistent(rig.api, 'acc-b', 'w1');
  });

  it('with no eligible server the account stays pending (202); the retry job places it once a server reports', async () => {
    rig = await startRig([{ id: 'w1', sshd: sshds[0]!, figures: null }]);
    const bytes = Buffer.from('pending session bytes');
    const res = await rig.api.post('/accounts', { account_id: 'pend-1', script_id: 'P', session_base64: bytes.toString('base64') });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.account).to.include({ account_id: 'pend-1', server_id: null, status: 'pending' });
    expect(res.body.error.code).to.equal('NO_ELIGIBLE_SERVER');
    expect(res.body.error.details.servers[0].reasons.join(' ')).to.include('agent not reporting');
    expect((await rig.api.get('/accounts?status=pending')).body.items.map((a: { account_id: string }) => a.account_id)).to.deep.equal(['pend-1']);
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);

    // The every-minute node-cron job runs this retry; here it is called directly.
    expect(rig.controller.jobs.names()).to.include('retry-pending');
    // Still nothing eligible: the retry leaves it pending.
    await rig.controller.reconciler.retryPending(rig.controller.allocator);
    expect((await rig.api.get('/accounts/pend-1')).body.status).to.equal('pending');

    await rig.connect('w1', LOW);
    await rig.controller.reconciler.retryPending(rig.controller.allocator);
    // Polled: had the minute's job been retrying the account just then, this call passed it by.
    await waitFor('pend-1 allocated', async () => (await rig!.api.get('/accounts/pend-1')).body.status === 'allocated');
    const acc = await rig.api.get('/accounts/pend-1');
    expect(acc.body).to.include({ server_id: 'w1', status: 'allocated' });
    expect(readFileSync(join(workerDir(sshds[0]!), 'pend-1.session')).equals(bytes)).to.equal(true);
    const hist = await rig.api.get('/allocation/history?account_id=pend-1');
    expect(hist.body.items.map((h: { allocation_type: string }) => h.allocation_type)).to.deep.equal(['initial']);
    await waitFor('the agent told its accounts', () => JSON.stringify(rig!.agents.get('w1')!.assigned) === JSON.stringify(['pend-1']));
    await expectConsistent(rig.api, 'pend-1', 'w1');
  });

  it('not placed within upload_timeout_ms: 202 pending at once, and the placement finishes in the background', async () => {
    hole = await startMute('127.0.0.5');
    rig = await startRig([
      { id: 'w1', figures: { cpu_percent: 0, memory_percent: 0, disk_percent: 0 }, extra: { host: hole.host, port: hole.port, private_key_path: sshds[0]!.privateKeyPath } },
      { id: 'w2', sshd: sshds[1]!, figures: HIGH },
    ], { upload_timeout_ms: 1000 });
    // The drift check after w1's agent connected is stuck in the same silent connection
    // an upload would share: let it give up first, so the upload waits its full bound.
    await waitFor('the drift check of w1 to give up', () => hole!.accepted() >= 1 && hole!.open() === 0, 5000);
    const bytes = Buffer.from('slow placement');
    const res = await rig.api.post('/accounts', { account_id: 'slow-1', session_base64: bytes.toString('base64') });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.error.code).to.equal('TIMEOUT');
    expect(res.body.account).to.include({ status: 'pending', server_id: null });
    // The retry job does not take an account whose placement is still running.
    await rig.controller.reconciler.retryPending(rig.controller.allocator);
    await waitFor('slow-1 placed on w2', async () => (await rig!.api.get('/accounts/slow-1')).body.server_id === 'w2', 10_000);
    expect(readFileSync(join(workerDir(sshds[1]!), 'slow-1.session')).equals(bytes)).to.equal(true);
    const hist = await rig.api.get('/allocation/history?account_id=slow-1');
    expect(hist.body.items).to.have.length(1);
    expect(hist.body.items[0].reason).to.include('w1 TIMEOUT');
    await expectConsistent(rig.api, 'slow-1', 'w2');
  });

  it('an account created without a session waits for PUT /accounts/{id}/session, then is placed', async () => {
    rig = await two();
    const res = await rig.api.post('/accounts', { account_id: 'late-1' });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.error.code).to.equal('SESSION_FILE_NOT_FOUND');
    const bytes = Buffer.from('uploaded later');
    const put = await rig.api.call('PUT', '/accounts/late-1/session', bytes, { 'content-type': 'application/octet-stream' });
    expect(put.status, put.text).to.equal(200);
    expect(put.body.session_sha256).to.equal(sha(bytes));
    await rig.controller.reconciler.retryPending(rig.controller.allocator);
    await waitFor('late-1 placed', async () => (await rig!.api.get('/accounts/late-1')).body.server_id === 'w1');
    expect(readFileSync(join(workerDir(sshds[0]!), 'late-1.session')).equals(bytes)).to.equal(true);
  });

  it('PUT /accounts/{id}/session replaces the stored copy (the old one kept), not the worker copy; unknown account is 404', async () => {
    rig = await two();
    const first = Buffer.from('first copy');
    await rig.api.post('/accounts', { account_id: 'put-1', session_base64: first.toString('base64') });
    const second = Buffer.from('second copy');
    const put = await rig.api.call('PUT', '/accounts/put-1/session', second, { 'content-type': 'application/octet-stream' });
    expect(put.status, put.text).to.equal(200);
    expect(put.body).to.include({ session_sha256: sha(second), server_id: 'w1' });
    expect(readFileSync(join(rig.dir, 'sessions', 'put-1.session')).equals(second)).to.equal(true);
    const previous = readdirSync(join(rig.dir, 'sessions', '.previous')).filter((f) => f.startsWith('put-1.'));
    expect(previous).to.have.length(1);
    expect(readFileSync(join(rig.dir, 'sessions', '.previous', previous[0]!)).equals(first)).to.equal(true);
    expect(readFileSync(join(workerDir(sshds[0]!), 'put-1.session')).equals(first)).to.equal(true);
    const missing = await rig.api.call('PUT', '/accounts/nobody/session', second, { 'content-type': 'application/octet-stream' });
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal('ACCOUNT_NOT_FOUND');
    expect((await rig.api.call('PUT', '/accounts/..%2Fx/session', second)).status).to.equal(400);
    // Raw bytes whatever type the client declares: a session that is not JSON, sent as JSON.
    const third = Buffer.from([0x7b, 0x00, 0xff, 0x22]);
    const asJson = await rig.api.call('PUT', '/accounts/put-1/session', third, { 'content-type': 'application/json' });
    expect(asJson.status, asJson.text).to.equal(200);
    expect(readFileSync(join(rig.dir, 'sessions', 'put-1.session')).equals(third)).to.equal(true);
  });

  it("DELETE /accounts/{id} collects the worker's current copy into the store, removes it from the worker and records release", async () => {
    rig = await two();
    await rig.api.post('/accounts', { account_id: 'rel-1', session_base64: Buffer.from('as uploaded').toString('base64') });
    // The session runner on the worker has updated the session since.
    const fresher = Buffer.from('updated on the worker');
    writeFileSync(join(workerDir(sshds[0]!), 'rel-1.session'), fresher);
    const del = await rig.api.call('DELETE', '/accounts/rel-1');
    expect(del.status, del.text).to.equal(200);
    expect(del.body).to.include({ account_id: 'rel-1', released_from: 'w1', session_sha256: sha(fresher) });
    expect(existsSync(join(workerDir(sshds[0]!), 'rel-1.session'))).to.equal(false);
    expect(workerFiles(sshds[0]!).filter((f) => f.includes('rel-1'))).to.deep.equal([]);
    expect(readFileSync(join(rig.dir, 'sessions', 'rel-1.session')).equals(fresher)).to.equal(true);
    expect((await rig.api.get('/accounts/rel-1')).status).to.equal(404);
    const hist = await rig.api.get('/allocation/history?account_id=rel-1');
    expect(hist.body.items.map((h: { allocation_type: string }) => h.allocation_type)).to.deep.equal(['release', 'initial']);
    expect(hist.body.items[0]).to.include({ server_id: null, from_server_id: 'w1' });
    await expectConsistent(rig.api, 'rel-1', null);
    await waitFor('w1 told it holds nothing', () => rig!.agents.get('w1')!.assigned?.length === 0, 2000);
    expect(rig.controller.fleet.get('w1')!.accounts).to.equal(0);
    expect((await rig.api.call('DELETE', '/accounts/rel-1')).status).to.equal(404);
  });

  it('GET /accounts filters by server, script and status and pages with a cursor', async () => {
    rig = await two();
    for (let i = 0; i < 5; i++) {
      rig.seed(`list-${i}`);
      const server_id = i < 3 ? 'w1' : 'w2';
      const r = await rig.api.post('/allocation/allocate', { account_id: `list-${i}`, session_file: `list-${i}.session`, script_id: i % 2 ? 'odd' : 'even', server_id });
      expect(r.status, r.text).to.equal(201);
    }
    await rig.api.post('/accounts', { account_id: 'list-p' });
    const ids = (items: { account_id: string }[]) => items.map((a) => a.account_id);
    expect(ids((await rig.api.get('/accounts?server_id=w2')).body.items)).to.deep.equal(['list-3', 'list-4']);
    expect(ids((await rig.api.get('/accounts?script_id=odd')).body.items)).to.deep.equal(['list-1', 'list-3']);
    expect(ids((await rig.api.get('/accounts?status=pending')).body.items)).to.deep.equal(['list-p']);
    expect(ids((await rig.api.get('/accounts?server_id=w1&script_id=even')).body.items)).to.deep.equal(['list-0', 'list-2']);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: any } = await rig.api.get(`/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).to.equal(200);
      expect(page.body.items.length).to.be.at.most(2);
      seen.push(...ids(page.body.items));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).to.deep.equal(['list-0', 'list-1', 'list-2', 'list-3', 'list-4', 'list-p']);
    expect(pages).to.equal(3);
    const one = await rig.api.get('/accounts/list-3');
    expect(one.body).to.have.keys('account_id', 'script_id', 'server_id', 'status', 'session_sha256', 'created_at', 'updated_at', 'last_error');
    expect((await rig.api.get('/accounts?cursor=garbage')).status).to.equal(400);
    expect((await rig.api.get('/accounts?limit=501')).status).to.equal(400);
    expect((await rig.api.get('/accounts?status=lost')).status).to.equal(400);
  });

  it('GET /allocation/history filters and pages, newest first', async () => {
    rig = await two();
    for (const [id, server_id] of [['h-1', undefined], ['h-2', 'w2'], ['h-3', undefined], ['h-4', 'w2']] as const) {
      rig.seed(id);
      const r = await rig.api.post('/allocation/allocate', { account_id: id, session_file: `${id}.session`, ...(server_id ? { server_id } : {}) });
      expect(r.status, r.text).to.equal(201);
    }
    expect((await rig.api.call('DELETE', '/accounts/h-1')).status).to.equal(200);
    const all = await rig.api.get('/allocation/history');
    const rows = all.body.items as { id: number; account_id: string; allocation_type: string; created_at: string }[];
    expect(rows.map((r) => `${r.account_id}:${r.allocation_type}`)).to.deep.equal(['h-1:release', 'h-4:manual', 'h-3:initial', 'h-2:manual', 'h-1:initial']);
    expect(rows.map((r) => r.id)).to.deep.equal([...rows.map((r) => r.id)].sort((a, b) => b - a));
    expect(all.body.next_cursor).to.equal(null);
    expect(rows[0]).to.have.keys('id', 'account_id', 'server_id', 'from_server_id', 'allocation_type', 'load_score', 'strategy', 'reason', 'created_at');

    const ids = (r: { body: { items: { account_id: string }[] } }) => r.body.items.map((i) => i.account_id);
    expect(ids(await rig.api.get('/allocation/history?server_id=w2'))).to.deep.equal(['h-4', 'h-2']);
    expect(ids(await rig.api.get('/allocation/history?allocation_type=manual'))).to.deep.equal(['h-4', 'h-2']);
    expect(ids(await rig.api.get('/allocation/history?account_id=h-3'))).to.deep.equal(['h-3']);
    expect(ids(await rig.api.get('/allocation/history?server_id=w1&allocation_type=initial'))).to.deep.equal(['h-3', 'h-1']);

    const paged: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: any } = await rig.api.get(`/allocation/history?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...page.body.items.map((i: { id: number }) => i.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(paged).to.deep.equal(rows.map((r) => r.id));
    for (const q of ['limit=0', 'limit=501', 'allocation_type=teleport', 'cursor=%%%', 'colour=red']) {
      expect((await rig.api.get(`/allocation/history?${q}`)).status, q).to.equal(400);
    }
  });
});
