import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBlackHole, startSshd, type SshdFixture } from '../helpers/sshd.js';
import { filesIn, rejection, rig, targetFor, type Rig } from './fixtures.js';

describe('transfer: upload to a real sshd', () => {
  let sshd: SshdFixture;
  let r: Rig;
  let sessions: string;

  before(async () => {
    sshd = await startSshd({ host: '127.0.0.2' });
    sessions = join(sshd.deployDir, 'sessions');
  });
  after(async () => sshd?.dispose());
  beforeEach(() => {
    r = rig([targetFor(sshd, 'w1')]);
  });
  afterEach(async () => r.close());

  it('lands byte for byte with mode 0600 in a new 0700 sessions dir and leaves no .part', async () => {
    const bytes = randomBytes(200_000);
    const res = await r.transfer.upload('w1', '639277356598', bytes);
    const file = join(sessions, '639277356598.session');
    expect(res.remote_path).to.equal(file);
    expect(res.duration_ms).to.be.a('number').and.at.least(0);
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(statSync(sessions).mode & 0o777).to.equal(0o700);
    expect(filesIn(sessions)).to.deep.equal(['639277356598.session']);
  });

  for (const [name, maxWriteLen] of [['a small per-request limit (ssh2 would split larger writes)', 1_000], ['no known limit', undefined]] as const) {
    it(`lands byte for byte with ${name}, several uploads at once on one channel`, async () => {
      // Set the channel's write limit as a server without limits@openssh.com would.
      await r.pool.use('w1', async ({ sftp }) => {
        const channel = sftp as unknown as { _maxWriteLen?: number };
        if (maxWriteLen === undefined) delete channel._maxWriteLen;
        else channel._maxWriteLen = maxWriteLen;
      });
      const files = Array.from({ length: 6 }, (_, i) => [`lim${i}`, randomBytes(28 * 1024 + i * 777)] as const);
      await Promise.all(files.map(([id, bytes]) => r.transfer.upload('w1', id, bytes)));
      for (const [id, bytes] of files) {
        expect(readFileSync(join(sessions, `${id}.session`)).equals(bytes), id).to.equal(true);
        expect(statSync(join(sessions, `${id}.session`)).mode & 0o777).to.equal(0o600);
      }
      expect(filesIn(sessions).filter((f) => f.endsWith('.part'))).to.deep.equal([]);
    });
  }

  it('replaces an existing session file and resets a loose mode to 0600', async () => {
    mkdirSync(sessions, { recursive: true });
    const file = join(sessions, 'acc-replace.session');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    writeFileSync(join(sessions, '.acc-replace.session.part'), 'stale part');
    chmodSync(join(sessions, '.acc-replace.session.part'), 0o666);
    await r.transfer.upload('w1', 'acc-replace', Buffer.from('new bytes'));
    expect(readFileSync(file, 'utf8')).to.equal('new bytes');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(filesIn(sessions)).to.not.include('.acc-replace.session.part');
  });

  it('reuses one connection for many uploads', async () => {
    const before = sshd.acceptedLogins();
    for (let i = 0; i < 15; i++) await r.transfer.upload('w1', `seq-${i}`, Buffer.from(`s${i}`));
    expect(sshd.acceptedLogins() - before).to.equal(1);
    expect(r.pool.handshakes('w1')).to.equal(1);
  });

  it('lands 20 concurrent uploads over one pooled connection', async () => {
    const before = sshd.acceptedLogins();
    const payloads = Array.from({ length: 20 }, (_, i) => ({ id: `conc-${i}`, bytes: randomBytes(5000 + i * 997) }));
    await Promise.all(payloads.map((p) => r.transfer.upload('w1', p.id, p.bytes)));
    for (const p of payloads) expect(readFileSync(join(sessions, `${p.id}.session`)).equals(p.bytes), p.id).to.equal(true);
    expect(filesIn(sessions).filter((f) => f.endsWith('.part'))).to.deep.equal([]);
    expect(sshd.acceptedLogins() - before).to.equal(1);
  });

  it('refuses an invalid account id without touching the remote', async () => {
    const before = sshd.acceptedLogins();
    const listed = filesIn(sessions);
    for (const bad of ['../evil', '.hidden', 'a/b', '', 'x'.repeat(200)]) {
      const e = await rejection(() => r.transfer.upload('w1', bad, Buffer.from('x')));
      expect(e.code, bad).to.equal('INVALID_REQUEST');
    }
    expect(await rejection(() => r.transfer.fenceAndCollect('w1', '../x'))).to.have.property('code', 'INVALID_REQUEST');
    expect(await rejection(() => r.transfer.download('w1', '/etc/passwd'))).to.have.property('code', 'INVALID_REQUEST');
    expect(sshd.acceptedLogins()).to.equal(before);
    expect(r.pool.handshakes()).to.equal(0);
    expect(filesIn(sessions)).to.deep.equal(listed);
    expect(filesIn(sshd.deployDir)).to.not.include('evil.session');
  });

  it('refuses an unknown server with SERVER_NOT_FOUND', async () => {
    const e = await rejection(() => r.transfer.upload('nope', 'acc1', Buffer.from('x')));
    expect(e.code).to.equal('SERVER_NOT_FOUND');
  });

  it('times out within the bound against a port that never speaks SSH', async () => {
    const hole = await startBlackHole('127.0.0.2');
    const t = rig([{ ...targetFor(sshd, 'hole'), host: hole.host, port: hole.port }], { connectTimeoutMs: 30_000 });
    try {
      const started = Date.now();
      const e = await rejection(() => t.transfer.upload('hole', 'acc1', Buffer.from('x'), { timeoutMs: 600 }));
      expect(e.code).to.equal('TIMEOUT');
      expect(e.details).to.include({ server_id: 'hole', maybe_placed: false });
      expect(Date.now() - started).to.be.below(10_000); // the call's 600 ms, not the 30 s connect bound
      expect(hole.accepted()).to.equal(1);
    } finally {
      await t.close();
      await hole.close();
    }
  });

  it('reports the connect timeout as TIMEOUT when it is the shorter bound', async () => {
    const hole = await startBlackHole('127.0.0.2');
    const t = rig([{ ...targetFor(sshd, 'hole'), host: hole.host, port: hole.port }], { connectTimeoutMs: 400 });
    try {
      const e = await rejection(() => t.transfer.upload('hole', 'acc1', Buffer.from('x'), { timeoutMs: 10_000 }));
      expect(e.code).to.equal('TIMEOUT');
    } finally {
      await t.close();
      await hole.close();
    }
  });

  it('times out on a pooled connection that stopped answering, then recovers on a new one', async () => {
    await r.transfer.upload('w1', 'frozen', Buffer.from('v1'));
    const before = sshd.acceptedLogins();
    sshd.pause();
    try {
      const e = await rejection(() => r.transfer.upload('w1', 'frozen', Buffer.from('v2'), { timeoutMs: 700 }));
      expect(e.code).to.equal('TIMEOUT');
    } finally {
      sshd.resume();
    }
    await r.transfer.upload('w1', 'frozen', Buffer.from('v3'));
    expect(readFileSync(join(sessions, 'frozen.session'), 'utf8')).to.equal('v3');
    expect(sshd.acceptedLogins() - before).to.equal(1);
    await r.transfer.whenIdle();
    expect(filesIn(sessions)).to.not.include('.frozen.session.part');
  });

  it('fails with UPLOAD_FAILED when the key is not authorised, without leaking secrets', async () => {
    r.servers.set('w1', { ...targetFor(sshd, 'w1'), private_key_path: join(sshd.dir, 'host_key'), password: 'hunter2-secret' });
    const e = await rejection(() => r.transfer.upload('w1', 'acc-auth', Buffer.from('x')));
    expect(e.code).to.equal('UPLOAD_FAILED');
    expect(JSON.stringify({ m: e.message, d: e.details })).to.not.match(/hunter2|PRIVATE KEY/);
    expect(filesIn(sessions)).to.not.include('acc-auth.session');
  });
});
