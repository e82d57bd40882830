import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DurableWriter } from '../../controller/store/durable-writer.js';
import { SessionFiles, sha256 } from '../../controller/store/session-files.js';
import { removeDir, tempDir } from '../helpers/temp.js';

describe('the controller\'s session store', () => {
  let dir: string;
  let store: SessionFiles;
  beforeEach(async () => {
    dir = tempDir();
    store = new SessionFiles({ dir: join(dir, 'sessions') });
    await store.init();
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('writes an account\'s copy with mode 0600 through the writer thread, leaving no temporary file', async () => {
    const bytes = randomBytes(28 * 1024);
    expect(await store.read('acc1')).to.equal(null);
    expect(await store.write('acc1', bytes)).to.equal(sha256(bytes));
    const file = join(dir, 'sessions', 'acc1.session');
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect((await store.read('acc1'))!.equals(bytes)).to.equal(true);
    expect(readdirSync(join(dir, 'sessions')).filter((f) => f.includes('.tmp'))).to.deep.equal([]);
  });

  it('keeps the replaced copy in .previous/, and writing the same bytes again changes nothing', async () => {
    const first = randomBytes(1000);
    const second = randomBytes(1000);
    await store.write('acc1', first);
    await store.write('acc1', second);
    expect(await store.write('acc1', second)).to.equal(sha256(second));
    const previous = readdirSync(join(dir, 'sessions', '.previous'));
    expect(previous).to.have.length(1);
    expect(readFileSync(join(dir, 'sessions', '.previous', previous[0]!)).equals(first)).to.equal(true);
    expect(readFileSync(join(dir, 'sessions', 'acc1.session')).equals(second)).to.equal(true);
  });

  it('keeps at most five replaced copies of an account, the newest', async () => {
    const versions = Array.from({ length: 8 }, () => randomBytes(100));
    for (const v of versions) {
      await store.write('acc1', v);
      await new Promise((r) => setTimeout(r, 3)); // distinct time stamps
    }
    const previous = readdirSync(join(dir, 'sessions', '.previous')).sort();
    expect(previous).to.have.length(5);
    const kept = previous.map((f) => readFileSync(join(dir, 'sessions', '.previous', f)));
    expect(kept.map((b) => versions.findIndex((v) => v.equals(b)))).to.deep.equal([2, 3, 4, 5, 6]);
  });

  it('many concurrent writes all land with their own bytes', async () => {
    const sessions = Array.from({ length: 64 }, (_, i) => ({ id: `acc${i}`, bytes: randomBytes(4096 + i) }));
    await Promise.all(sessions.map((s) => store.write(s.id, s.bytes)));
    for (const s of sessions) expect(readFileSync(join(dir, 'sessions', `${s.id}.session`)).equals(s.bytes), s.id).to.equal(true);
  });

  it('keeps a recovered copy under .recovered/ with mode 0600', async () => {
    const bytes = randomBytes(500);
    const file = await store.keepRecovered('acc1', 'w1', bytes);
    expect(file.startsWith(join(dir, 'sessions', '.recovered', 'acc1.w1.'))).to.equal(true);
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });
});

describe('the durable file writer', () => {
  let dir: string;
  let writer: DurableWriter;
  beforeEach(() => {
    dir = tempDir();
    writer = new DurableWriter();
  });
  afterEach(async () => {
    await writer.close();
    removeDir(dir);
  });

  it('a failing file gets its own error code; the files written beside it still land', async () => {
    const bytes = Buffer.from('session bytes');
    const good = writer.write({ tmp: join(dir, '.a.tmp'), target: join(dir, 'a'), bytes, mode: 0o600 });
    const bad = writer.write({ tmp: join(dir, 'missing', '.b.tmp'), target: join(dir, 'missing', 'b'), bytes, mode: 0o600 });
    const renameFails = writer.write({ tmp: join(dir, '.c.tmp'), target: join(dir, 'missing', 'c'), bytes, mode: 0o600 });
    await good;
    const errors = await Promise.all([bad, renameFails].map((p) => p.then(() => null, (e: NodeJS.ErrnoException) => e)));
    expect(errors.map((e) => e?.code)).to.deep.equal(['ENOENT', 'ENOENT']);
    expect(readFileSync(join(dir, 'a'), 'utf8')).to.equal('session bytes');
    // The failed rename's temporary file is removed.
    expect(readdirSync(dir).sort()).to.deep.equal(['a']);
  });

  it('two writes to one file sent together land in order: the second compares with the first', async () => {
    const target = join(dir, 'acc.session');
    const previous = (n: number) => ({ previous: join(dir, 'prev', `${n}.session`) });
    const first = Buffer.from('first');
    const second = Buffer.from('second');
    // Same temporary name too: the second must not truncate the first's file mid-round.
    const [a, b] = await Promise.all([
      writer.write({ tmp: join(dir, '.acc.tmp'), target, bytes: first, mode: 0o600, replace: previous(1) }),
      writer.write({ tmp: join(dir, '.acc.tmp'), target, bytes: second, mode: 0o600, replace: previous(2) }),
    ]);
    expect([a.result, b.result]).to.deep.equal(['written', 'previous_kept']);
    expect(b.sha256).to.equal(sha256(second));
    expect(readFileSync(target, 'utf8')).to.equal('second');
    expect(readFileSync(join(dir, 'prev', '2.session'), 'utf8')).to.equal('first');
    const again = await writer.write({ tmp: join(dir, '.acc.tmp'), target, bytes: second, mode: 0o600, replace: previous(3) });
    expect(again).to.deep.equal({ result: 'unchanged', sha256: sha256(second) });
  });

  it('close waits for the writes in flight; a write after close is refused', async () => {
    const bytes = randomBytes(64 * 1024);
    const writes = Array.from({ length: 8 }, (_, i) => writer.write({ tmp: join(dir, `.f${i}.tmp`), target: join(dir, `f${i}`), bytes, mode: 0o600 }));
    await writer.close();
    await Promise.all(writes);
    for (let i = 0; i < 8; i++) expect(readFileSync(join(dir, `f${i}`)).equals(bytes)).to.equal(true);
    let refused: Error | null = null;
    await writer.write({ tmp: join(dir, '.late'), target: null, bytes, mode: 0o600 }).catch((e: Error) => { refused = e; });
    expect(refused).to.be.an('error');
    expect(readdirSync(dir)).to.not.include('.late');
  });
});
