/**
 * The safety tests' sampler itself: it must report a session live on two workers, and
 * must not report one moved fence-first, however often.
 */
import { expect } from 'chai';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { LiveSampler } from './live-sampler.js';

describe('safety: the live-session sampler', () => {
  let dir = '';
  let dirs: Record<string, string> = {};
  beforeEach(() => {
    dir = tempDir('berth-sampler-');
    dirs = { a: join(dir, 'a'), b: join(dir, 'b') };
    for (const d of Object.values(dirs)) mkdirSync(join(d, '.fenced'), { recursive: true });
  });
  afterEach(() => removeDir(dir));

  it('reports a session live on two workers at once', async () => {
    const sampler = await new LiveSampler(dirs).start();
    writeFileSync(join(dirs.a!, 's1.session'), 'x');
    writeFileSync(join(dirs.b!, 's1.session'), 'x');
    writeFileSync(join(dirs.b!, 's2.session'), 'x');
    await sleep(100);
    await sampler.stop();
    expect(sampler.scans).to.be.greaterThan(1);
    expect(sampler.duplicates.length).to.be.greaterThan(0);
    expect(new Set(sampler.duplicates.map((d) => `${d.account_id}:${d.servers.join()}`))).to.deep.equal(new Set(['s1:a,b']));
  });

  it('reports nothing while 2,000 sessions move fence-first from one worker to the other', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    for (const id of ids) writeFileSync(join(dirs.a!, `${id}.session`), 'x');
    const sampler = await new LiveSampler(dirs, 0).start();
    for (const [i, id] of ids.entries()) {
      renameSync(join(dirs.a!, `${id}.session`), join(dirs.a!, '.fenced', `${id}.session`));
      writeFileSync(join(dirs.b!, `${id}.session`), 'x');
      rmSync(join(dirs.a!, '.fenced', `${id}.session`));
      if (i % 20 === 0) await sleep(1);
    }
    await sampler.stop();
    expect(sampler.scans).to.be.greaterThan(10);
    expect(sampler.duplicates).to.deep.equal([]);
  });
});
