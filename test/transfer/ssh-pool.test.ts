import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { coalesceWrites } from '../../controller/transfer/ssh-pool.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { filesIn, rejection, rig, targetFor, waitFor, type Rig } from './fixtures.js';

describe('transfer: ssh pool against real sshd', () => {
  let a: SshdFixture;
  let b: SshdFixture;
  let r: Rig | undefined;

  before(async () => {
    [a, b] = await Promise.all([startSshd({ host: '127.0.0.2' }), startSshd({ host: '127.0.0.3' })]);
  });
  after(async () => Promise.all([a?.dispose(), b?.dispose()]));
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  const sessionsOf = (fx: SshdFixture): string => join(fx.deployDir, 'sessions');

  it('reconnects after sshd restarts', async () => {
    r = rig([targetFor(a, 'w1')]);
    await r.transfer.upload('w1', 'restart-1', Buffer.from('one'));
    await a.stop();
    const down = await rejection(() => r!.transfer.upload('w1', 'restart-2', Buffer.from('two')));
    expect(down.code).to.equal('UPLOAD_FAILED');
    await a.start();
    await r.transfer.upload('w1', 'restart-3', Buffer.from('three'));
    expect(readFileSync(join(sessionsOf(a), 'restart-3.session'), 'utf8')).to.equal('three');
    expect(filesIn(sessionsOf(a))).to.not.include('restart-2.session');
    expect(r.pool.handshakes('w1')).to.equal(2);
  });

  it('connects when the pinned host key matches (with or without prefix and padding)', async () => {
    const bare = a.hostKeyFingerprint.slice('SHA256:'.length);
    for (const [id, pin] of [['p1', a.hostKeyFingerprint], ['p2', bare], ['p3', `${a.hostKeyFingerprint}=`]] as const) {
      r = rig([targetFor(a, id, { host_key: pin })]);
      await r.transfer.upload(id, `pinned-${id}`, Buffer.from(id));
      expect(await r.hostKeys.get(id), 'a pinned key is not recorded').to.equal(null);
      await r.close();
      r = undefined;
    }
    expect(filesIn(sessionsOf(a))).to.include.members(['pinned-p1.session', 'pinned-p2.session', 'pinned-p3.session']);
  });

  it('refuses a server whose host key differs from the pinned one', async () => {
    r = rig([targetFor(a, 'w1', { host_key: b.hostKeyFingerprint })]);
    const e = await rejection(() => r!.transfer.upload('w1', 'pin-mismatch', Buffer.from('x')));
    expect(e.code).to.equal('HOST_KEY_MISMATCH');
    expect(e.details).to.include({ server_id: 'w1', expected: b.hostKeyFingerprint, actual: a.hostKeyFingerprint });
    const f = await rejection(() => r!.transfer.fenceAndCollect('w1', 'pin-mismatch'));
    expect(f.code).to.equal('HOST_KEY_MISMATCH');
    expect(filesIn(sessionsOf(a))).to.not.include('pin-mismatch.session');
  });

  it('records the host key on first use and refuses it after the key rotates', async () => {
    r = rig([targetFor(b, 'w2')]);
    await r.transfer.upload('w2', 'tofu-1', Buffer.from('x'));
    const first = b.hostKeyFingerprint;
    expect(await r.hostKeys.get('w2')).to.equal(first);
    const rotated = await b.rotateHostKey();
    expect(rotated).to.not.equal(first);
    // The restart cut the pooled connection; once the pool has seen it go, the next
    // connection meets the new key.
    await waitFor(() => !r!.pool.isConnected('w2'), 10_000, 'the pool to see the restart');
    const e = await rejection(() => r!.transfer.upload('w2', 'tofu-2', Buffer.from('y')));
    expect(e.code).to.equal('HOST_KEY_MISMATCH');
    expect(e.details).to.include({ expected: first, actual: rotated });
    expect(await r.hostKeys.get('w2')).to.equal(first);
    expect(filesIn(sessionsOf(b))).to.not.include('tofu-2.session');
    // An operator who accepts the new key forgets the old one; then it is recorded again.
    r.hostKeys.forget('w2');
    await r.transfer.upload('w2', 'tofu-3', Buffer.from('z'));
    expect(await r.hostKeys.get('w2')).to.equal(rotated);
  });

  it('replaces the pooled connection when the server target changes at runtime', async () => {
    r = rig([targetFor(a, 'w1')]);
    await r.transfer.upload('w1', 'move-1', Buffer.from('on a'));
    const disconnectsBefore = a.logLines().filter((l) => /Disconnected from user root/.test(l)).length;
    r.servers.set('w1', targetFor(b, 'w1', { host_key: b.hostKeyFingerprint }));
    await r.transfer.upload('w1', 'move-2', Buffer.from('on b'));
    expect(readFileSync(join(sessionsOf(b), 'move-2.session'), 'utf8')).to.equal('on b');
    expect(filesIn(sessionsOf(a))).to.not.include('move-2.session');
    expect(r.pool.handshakes('w1')).to.equal(2);
    await waitFor(() => a.logLines().filter((l) => /Disconnected from user root/.test(l)).length > disconnectsBefore, 10_000, 'old connection to end');
  });

  it('uses a changed sessions_dir without reconnecting', async () => {
    r = rig([targetFor(a, 'w1')]);
    await r.transfer.upload('w1', 'dir-1', Buffer.from('1'));
    const other = join(a.deployDir, 'elsewhere', 'sessions');
    r.servers.set('w1', targetFor(a, 'w1', { sessions_dir: other }));
    await r.transfer.upload('w1', 'dir-2', Buffer.from('2'));
    expect(filesIn(other)).to.deep.equal(['dir-2.session']);
    expect(r.pool.handshakes('w1')).to.equal(1);
  });

  it('keeps one connection per server when several servers are used at once', async () => {
    r = rig([targetFor(a, 'w1'), targetFor(b, 'w2', { host_key: b.hostKeyFingerprint })]);
    const [la, lb] = [a.acceptedLogins(), b.acceptedLogins()];
    await Promise.all(Array.from({ length: 10 }, (_, i) => r!.transfer.upload(i % 2 ? 'w1' : 'w2', `multi-${i}`, Buffer.from(`${i}`))));
    expect([a.acceptedLogins() - la, b.acceptedLogins() - lb]).to.deep.equal([1, 1]);
    expect(filesIn(sessionsOf(a)).filter((f) => f.startsWith('multi-'))).to.have.length(5);
    expect(filesIn(sessionsOf(b)).filter((f) => f.startsWith('multi-'))).to.have.length(5);
  });

  it('refuses use after close', async () => {
    r = rig([targetFor(a, 'w1')]);
    await r.pool.close();
    const e = await rejection(() => r!.transfer.download('w1', 'acc'));
    expect(e.code).to.equal('SHUTTING_DOWN');
  });
});

describe('transfer: packets written in one turn of the event loop', () => {
  it('leave in one system call, in order, and a later turn\'s in the next', async () => {
    const received: Buffer[] = [];
    const server = createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', r));
    try {
      sock.setNoDelay(true);
      coalesceWrites(sock);
      const batches: number[] = [];
      const writev = (sock as unknown as { _writev: (chunks: unknown[], cb: () => void) => void })._writev.bind(sock);
      (sock as unknown as { _writev: typeof writev })._writev = (chunks, cb) => {
        batches.push(chunks.length);
        writev(chunks, cb);
      };
      sock.write('a');
      await Promise.resolve(); // a promise job of the same turn still joins the batch
      sock.write('b');
      sock.write('c');
      await new Promise((r) => setImmediate(r));
      sock.write('d');
      await waitFor(() => Buffer.concat(received).toString() === 'abcd', 5000);
      expect(batches).to.deep.equal([3]); // 'd' alone goes out by the plain write path
    } finally {
      sock.destroy();
      server.close();
    }
  });
});
