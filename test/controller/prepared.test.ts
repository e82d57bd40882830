import { expect } from 'chai';
import { join } from 'node:path';
import { prepare } from '../../controller/store/prepared.js';
import { openStore, type Store } from '../../controller/store/store.js';
import { removeDir, tempDir } from '../helpers/temp.js';

describe('store: prepared queries', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = tempDir('berth-prepared-');
    store = await openStore(join(dir, 'berth.db'));
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('runs the compiled query with each call\'s values, constants kept, in and out of a transaction', async () => {
    const db = store.db;
    const insert = prepare(2, (id: string, now: string) => db.insertInto('accounts').values({
      account_id: id, script_id: 'fixed-script', server_id: null, status: 'pending', session_sha256: null, strategy: null,
      location: null, last_error: null, last_moved_at: null, created_at: now, updated_at: now,
    }));
    const byScript = prepare(1, (script: string) => db.selectFrom('accounts').select('account_id').where('script_id', '=', script).orderBy('account_id'));
    await insert(db, 'a1', '2026-01-01T00:00:00.000Z');
    await db.transaction().execute(async (trx) => { await insert(trx, 'a2', '2026-01-02T00:00:00.000Z'); });
    expect((await byScript(db, 'fixed-script')).rows).to.deep.equal([{ account_id: 'a1' }, { account_id: 'a2' }]);
    expect((await byScript(db, 'other')).rows).to.deep.equal([]);
    const rows = await db.selectFrom('accounts').select(['account_id', 'created_at']).orderBy('account_id').execute();
    expect(rows).to.deep.equal([{ account_id: 'a1', created_at: '2026-01-01T00:00:00.000Z' }, { account_id: 'a2', created_at: '2026-01-02T00:00:00.000Z' }]);
  });

  it('refuses a build that does not use an argument as a value', () => {
    const db = store.db;
    expect(() => prepare(2 as 1, (id: string) => db.selectFrom('accounts').selectAll().where('account_id', '=', id))).to.throw(/argument 1 is not a parameter/);
  });
});
