import { expect } from 'chai';
import { GroupSync } from '../../controller/store/group-sync.js';

describe('store: group fsync', () => {
  /** A flush the test finishes by hand, recording what was "written" when it started. */
  function manualFlush() {
    const starts: number[][] = [];
    const finishers: ((e?: Error) => void)[] = [];
    const written: number[] = [];
    const sync = new GroupSync(() => new Promise<void>((resolve, reject) => {
      starts.push([...written]);
      finishers.push((e) => (e ? reject(e) : resolve()));
    }));
    return { sync, starts, finishers, written };
  }

  it('a caller arriving during a flush waits for the next flush, which covers its write; later callers share it', async () => {
    const { sync, starts, finishers, written } = manualFlush();
    written.push(1);
    const a = sync.request();
    written.push(2);
    const b = sync.request();
    written.push(3);
    const c = sync.request();
    expect(starts).to.deep.equal([[1]]);
    let bDone = false;
    void b.then(() => { bDone = true; });
    finishers[0]!();
    await a;
    await new Promise((r) => setImmediate(r));
    expect(bDone, 'b may not resolve on a flush that started before its write').to.equal(false);
    expect(starts).to.deep.equal([[1], [1, 2, 3]]);
    finishers[1]!();
    await Promise.all([b, c]);
    expect(starts.length).to.equal(2);
  });

  it('a failed flush rejects its callers and the next request starts a new one', async () => {
    const { sync, starts, finishers } = manualFlush();
    const a = sync.request();
    finishers[0]!(new Error('EIO'));
    let err: unknown;
    try { await a; } catch (e) { err = e; }
    expect((err as Error).message).to.equal('EIO');
    const b = sync.request();
    expect(starts.length).to.equal(2);
    finishers[1]!();
    await b;
  });
});
