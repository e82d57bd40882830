import { expect } from 'chai';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { filesIn, rejection, rig, targetFor, type Rig } from './fixtures.js';

describe('transfer: fence and collect, download, remove, list', () => {
  let sshd: SshdFixture;
  let r: Rig;
  let sessions: string;
  let fenced: string;

  before(async () => {
    sshd = await startSshd({ host: '127.0.0.3' });
    sessions = join(sshd.deployDir, 'sessions');
    fenced = join(sessions, '.fenced');
    r = rig([targetFor(sshd, 'w1')]);
  });
  after(async () => {
    await r?.close();
    await sshd?.dispose();
  });

  function put(dir: string, name: string, content: string, mtimeSec?: number): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), content);
    if (mtimeSec !== undefined) utimesSync(join(dir, name), mtimeSec, mtimeSec);
  }

  it('collects the live copy and confirms it is gone, along with fenced copies', async () => {
    await r.transfer.upload('w1', 'live-1', Buffer.from('live bytes'));
    put(fenced, 'live-1.session', 'older fenced bytes');
    put(sessions, 'other.session', 'someone else');
    const res = await r.transfer.fenceAndCollect('w1', 'live-1');
    expect(res.source).to.equal('live');
    expect(res.bytes?.toString()).to.equal('live bytes');
    expect(filesIn(sessions)).to.not.include('live-1.session');
    expect(filesIn(fenced)).to.not.include('live-1.session');
    expect(filesIn(sessions)).to.include('other.session');
  });

  it('collects the freshest fenced copy (the agent keeps it as <id>.session) when the live file is absent', async () => {
    put(fenced, 'fz.session', 'freshest', 1_700_000_000);
    put(fenced, 'fz.session.fenced-20240101T000000Z', 'older', 1_700_000_100);
    put(fenced, 'fz.session.session', 'belongs to account fz.session', 1_800_000_000);
    put(fenced, 'fzz.session', 'belongs to fzz', 1_800_000_000);
    const res = await r.transfer.fenceAndCollect('w1', 'fz');
    expect(res).to.deep.include({ source: 'fenced' });
    expect(res.bytes?.toString()).to.equal('freshest');
    expect(filesIn(fenced).filter((f) => f.startsWith('fz'))).to.deep.equal(['fz.session.session', 'fzz.session']);
  });

  it('without <id>.session in .fenced, collects the newest aside copy by mtime', async () => {
    put(fenced, 'fy.session.fenced-a', 'old', 1_700_000_000);
    put(fenced, 'fy.session.fenced-c', 'newest', 1_700_000_100);
    put(fenced, 'fy.session.fenced-b', 'middle', 1_700_000_050);
    const res = await r.transfer.fenceAndCollect('w1', 'fy');
    expect(res.bytes?.toString()).to.equal('newest');
    expect(filesIn(fenced).filter((f) => f.startsWith('fy.'))).to.deep.equal([]);
  });

  it('hands the bytes to onCollected while the worker still has them; a failing store removes nothing', async () => {
    await r.transfer.upload('w1', 'store-1', Buffer.from('keep me'));
    const seen: string[] = [];
    const res = await r.transfer.fenceAndCollect('w1', 'store-1', {
      onCollected: async (c) => {
        seen.push(`${c.source}:${c.bytes?.toString()}:${filesIn(sessions).includes('store-1.session')}`);
      },
    });
    expect(seen).to.deep.equal(['live:keep me:true']);
    expect(res.bytes?.toString()).to.equal('keep me');
    expect(filesIn(sessions)).to.not.include('store-1.session');

    await r.transfer.upload('w1', 'store-2', Buffer.from('still here'));
    const e = await rejection(() => r.transfer.fenceAndCollect('w1', 'store-2', {
      onCollected: async () => {
        throw new Error('disk full');
      },
    }));
    expect(e.message).to.equal('disk full');
    expect(filesIn(sessions)).to.include('store-2.session');
  });

  it('keeps the collected bytes on the error when removal fails part way', async () => {
    await r.transfer.upload('w1', 'half', Buffer.from('half-fenced bytes'));
    // A directory where a fenced copy's name is expected cannot be unlinked.
    mkdirSync(join(fenced, 'half.session.fenced-dir', 'x'), { recursive: true });
    const e = await rejection(() => r.transfer.fenceAndCollect('w1', 'half'));
    expect(e.code).to.equal('SSH_UNREACHABLE');
    expect(e.details).to.include({ stage: 'remove' });
    const collected = (e as { collected?: { bytes: Buffer | null; source: string } }).collected;
    expect(collected?.source).to.equal('live');
    expect(collected?.bytes?.toString()).to.equal('half-fenced bytes');
    expect(JSON.stringify(e)).to.not.include('half-fenced');
    expect(filesIn(sessions)).to.not.include('half.session');
  });

  it('reports none when the worker holds no copy', async () => {
    const res = await r.transfer.fenceAndCollect('w1', 'never-there');
    expect(res).to.deep.equal({ bytes: null, source: 'none' });
  });

  it('downloads a live file, or null when it is absent', async () => {
    await r.transfer.upload('w1', 'dl', Buffer.from([0, 1, 2, 255]));
    expect((await r.transfer.download('w1', 'dl'))?.equals(Buffer.from([0, 1, 2, 255]))).to.equal(true);
    expect(await r.transfer.download('w1', 'dl-absent')).to.equal(null);
  });

  it('removes only the live file and says whether it was there', async () => {
    await r.transfer.upload('w1', 'rm', Buffer.from('x'));
    put(fenced, 'rm.session', 'fenced copy');
    expect(await r.transfer.remove('w1', 'rm')).to.equal(true);
    expect(await r.transfer.remove('w1', 'rm')).to.equal(false);
    expect(filesIn(sessions)).to.not.include('rm.session');
    expect(filesIn(fenced)).to.include('rm.session');
  });

  it('lists live account ids and fenced file names, ignoring other files', async () => {
    put(sessions, 'notes.txt', 'x');
    put(sessions, '.hidden.session.part', 'x');
    const listing = await r.transfer.listRemote('w1');
    expect(listing.live).to.include.members(['dl', 'other']);
    expect(listing.live).to.not.include.members(['notes.txt', 'notes', '.hidden', 'rm']);
    expect(listing.fenced).to.include.members(['rm.session', 'fzz.session']);
    expect(listing.live).to.deep.equal([...listing.live].sort());
  });

  it('lists an empty worker as empty and fails on an unreachable one', async () => {
    const t = rig([targetFor(sshd, 'empty', { sessions_dir: join(sshd.deployDir, 'nothing-here') })]);
    try {
      expect(await t.transfer.listRemote('empty')).to.deep.equal({ live: [], fenced: [] });
    } finally {
      await t.close();
    }
    const gone = rig([targetFor(sshd, 'gone', { port: 1 })]);
    try {
      const e = await rejection(() => gone.transfer.fenceAndCollect('gone', 'acc'));
      expect(e.code).to.equal('SSH_UNREACHABLE');
    } finally {
      await gone.close();
    }
  });
});
