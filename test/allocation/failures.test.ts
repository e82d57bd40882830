/**
 * Upload failures (SPEC §4): the reservation is released and the next-best server is
 * tried, at most 3; nothing is left on a server that failed; host keys are enforced.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startBlackHole, type BlackHole, type SshdFixture } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';
import { cleanWorkers, expectConsistent, startRig, startSshds, workerDir, workerFiles, type Rig } from './helpers.js';

const BEST = { cpu_percent: 0, memory_percent: 0, disk_percent: 0 };
const NEXT = { cpu_percent: 20, memory_percent: 20, disk_percent: 0 };
const WORST = { cpu_percent: 60, memory_percent: 60, disk_percent: 0 };

describe('allocation: upload failures and host keys', function () {
  this.timeout(40_000);
  let sshds: SshdFixture[];
  let rig: Rig | undefined;
  let hole: BlackHole | undefined;

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
    await hole?.close();
    hole = undefined;
    for (const s of sshds) await s.start();
  });

  async function allocate(r: Rig, id: string, extra: Record<string, unknown> = {}) {
    const bytes = r.seed(id);
    const res = await r.api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session`, ...extra });
    return { ...res, bytes };
  }

  it('the best server is down over ssh: the account lands on the next one and the reason says why', async () => {
    await sshds[0]!.stop();
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, figures: BEST },
      { id: 'w2', sshd: sshds[1]!, figures: NEXT },
      { id: 'w3', sshd: sshds[2]!, figures: WORST },
    ]);
    const res = await allocate(rig, 'down-1');
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w2');
    expect(res.body.reason).to.match(/after 1 failed upload\(s\): w1 /);
    expect(readFileSync(join(workerDir(sshds[1]!), 'down-1.session')).equals(res.bytes)).to.equal(true);
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);
    const hist = await rig.api.get('/allocation/history?account_id=down-1');
    expect(hist.body.items).to.have.length(1);
    expect(hist.body.items[0].reason).to.include('w1');
    // The failed server's reservation was released: it holds nothing.
    expect(rig.controller.fleet.get('w1')!.accounts).to.equal(0);
    expect(rig.agents.get('w1')!.assigns).to.deep.equal([]);
    await expectConsistent(rig.api, 'down-1', 'w2');
  });

  it('a failure after the .part was written leaves no .part and no session on the failed server', async () => {
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, figures: BEST },
      { id: 'w2', sshd: sshds[1]!, figures: NEXT },
    ]);
    // A non-empty directory where the session should land makes the rename fail.
    const blocker = join(workerDir(sshds[0]!), 'part-1.session');
    mkdirSync(blocker, { recursive: true });
    writeFileSync(join(blocker, 'keep'), 'x');
    const res = await allocate(rig, 'part-1');
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w2');
    await waitFor('the .part on w1 to be removed', () => !workerFiles(sshds[0]!).some((f) => f.endsWith('.part')), 5000);
    expect(workerFiles(sshds[0]!)).to.deep.equal(['part-1.session', 'part-1.session/keep']);
    expect(workerFiles(sshds[1]!)).to.deep.equal(['part-1.session']);
    await expectConsistent(rig.api, 'part-1', 'w2');
  });

  it('a server that accepts TCP and never speaks ssh: TIMEOUT within upload_timeout_ms, then the next server', async () => {
    hole = await startBlackHole('127.0.0.5');
    rig = await startRig([
      { id: 'w1', figures: BEST, extra: { host: hole.host, port: hole.port, private_key_path: sshds[0]!.privateKeyPath } },
      { id: 'w2', sshd: sshds[1]!, figures: NEXT },
    ], { upload_timeout_ms: 1500 });
    const res = await allocate(rig, 'hole-1');
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w2');
    expect(res.body.reason).to.match(/w1 TIMEOUT/);
    expect(hole.accepted()).to.be.at.least(1);
    await expectConsistent(rig.api, 'hole-1', 'w2');
  });

  it('tries at most 3 servers, then answers 502 with every attempt and creates nothing', async () => {
    // Four eligible servers whose ssh port refuses connections.
    const refused = (id: string) => ({ id, figures: BEST, extra: { host: '127.0.0.9', port: 1, private_key_path: sshds[0]!.privateKeyPath } });
    rig = await startRig([refused('w1'), refused('w2'), refused('w3'), refused('w4')]);
    const res = await allocate(rig, 'fail-1');
    expect(res.status, res.text).to.equal(502);
    expect(res.body.error.code).to.equal('UPLOAD_FAILED');
    expect(res.body.error.details.attempts.map((a: { server_id: string }) => a.server_id)).to.deep.equal(['w1', 'w2', 'w3']);
    expect((await rig.api.get('/accounts/fail-1')).status).to.equal(404);
    expect((await rig.api.get('/allocation/history')).body.items).to.deep.equal([]);
    expect(rig.controller.fleet.servers.map((s) => s.accounts)).to.deep.equal([0, 0, 0, 0]);
  });

  it('a wrong pinned host key is refused: the next server gets the account; alone, the answer is 502 HOST_KEY_MISMATCH', async () => {
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, figures: BEST, extra: { host_key: sshds[2]!.hostKeyFingerprint } },
      { id: 'w2', sshd: sshds[1]!, figures: NEXT },
    ]);
    const res = await allocate(rig, 'key-1');
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w2');
    expect(res.body.reason).to.include('w1 HOST_KEY_MISMATCH');
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);
    await rig.close();

    rig = await startRig([{ id: 'w1', sshd: sshds[0]!, figures: BEST, extra: { host_key: sshds[2]!.hostKeyFingerprint } }]);
    const alone = await allocate(rig, 'key-2');
    expect(alone.status, alone.text).to.equal(502);
    expect(alone.body.error.code).to.equal('HOST_KEY_MISMATCH');
    expect(workerFiles(sshds[0]!)).to.deep.equal([]);
    expect((await rig.api.get('/accounts/key-2')).status).to.equal(404);
  });

  it('without a pinned key the first key is recorded, and a changed host key is refused afterwards', async () => {
    rig = await startRig([
      { id: 'w1', sshd: sshds[0]!, figures: BEST, extra: { host_key: null } },
      { id: 'w2', sshd: sshds[1]!, figures: WORST },
    ]);
    expect((await allocate(rig, 'tofu-1')).body.server_id).to.equal('w1');
    expect(await rig.controller.store.servers.getHostKey('w1')).to.equal(sshds[0]!.hostKeyFingerprint);
    await sshds[0]!.rotateHostKey();
    // The restart cut the pooled connection; once the pool has seen it go, the next
    // connection meets the new key.
    await waitFor('pooled connection to w1 dropped', () => !rig!.controller.pool.isConnected('w1'));
    const res = await allocate(rig, 'tofu-2');
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w2');
    expect(res.body.reason).to.include('w1 HOST_KEY_MISMATCH');
    expect(workerFiles(sshds[0]!)).to.deep.equal(['tofu-1.session']);
  });
});
