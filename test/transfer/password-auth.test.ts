/**
 * Password auth cannot be tried against the real sshd without changing the machine's
 * root password, so this uses ssh2's own server (SFTP refused: only auth is checked).
 */
import { expect } from 'chai';
import ssh2 from 'ssh2';
import type { AddressInfo } from 'node:net';
import { rejection, rig } from './fixtures.js';

const { Server, utils } = ssh2;

/**
 * A fresh ed25519 host key ssh2 can read back. About 1 in 256 keys from ssh2's own
 * generator come out malformed (it strips a leading zero byte of the public key:
 * mscdex/ssh2#1390, #1513) and its Server then refuses them; generate again until one parses.
 */
function ed25519HostKey(): string {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair.private;
  }
}

describe('transfer: password auth (ssh2 server)', () => {
  let server: InstanceType<typeof Server>;
  let port: number;
  const seen: Array<{ method: string; user: string; password?: string }> = [];

  before(async () => {
    const hostKey = ed25519HostKey();
    server = new Server({ hostKeys: [hostKey] }, (client) => {
      client.on('authentication', (ctx) => {
        seen.push({ method: ctx.method, user: ctx.username, password: ctx.method === 'password' ? ctx.password : undefined });
        if (ctx.method === 'password' && ctx.username === 'ubuntu' && ctx.password === 'right-pw') ctx.accept();
        else ctx.reject(['password']);
      });
      client.on('session', (accept) => {
        const session = accept();
        session.on('subsystem', (_accept, reject) => reject());
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.2', () => res()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => new Promise<void>((res) => server.close(() => res())));

  const target = (password: string) => ({
    server_id: 'pw', host: '127.0.0.2', port, user: 'ubuntu', password,
    private_key_path: null, host_key: null, sessions_dir: '/nonexistent/sessions',
  });

  it('authenticates with the configured password', async () => {
    const r = rig([target('right-pw')]);
    try {
      const e = await rejection(() => r.transfer.listRemote('pw'));
      // Auth passed; only the sftp subsystem was refused by this server.
      expect(e.message).to.match(/sftp/);
      expect(seen.filter((s) => s.method === 'password')).to.deep.include({ method: 'password', user: 'ubuntu', password: 'right-pw' });
    } finally {
      await r.close();
    }
  });

  it('reports a wrong password as an auth failure without echoing it', async () => {
    const r = rig([target('wrong-pw-secret')]);
    try {
      const e = await rejection(() => r.transfer.upload('pw', 'acc', Buffer.from('x')));
      expect(e.code).to.equal('UPLOAD_FAILED');
      expect(e.details).to.include({ reason: 'authentication failed' });
      expect(JSON.stringify({ m: e.message, d: e.details })).to.not.include('wrong-pw-secret');
    } finally {
      await r.close();
    }
  });
});
