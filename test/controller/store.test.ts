import { expect } from 'chai';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { FALLBACK_CHECKPOINT_PAGES } from '../../controller/store/wal-checkpointer.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { migrateToLatest } from '../../controller/store/migrate.js';
import { openSqlite } from '../../controller/store/open-sqlite.js';
import { openStore } from '../../controller/store/store.js';
import { removeDir, tempDir } from '../helpers/temp.js';

function schemaOf(file: string): string[] {
  const db = new SQLite(file, { readonly: true });
  try {
    return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as { type: string; name: string; sql: string }[])
      .map((r) => `${r.type} ${r.name} ${r.sql}`);
  } finally {
    db.close();
  }
}

describe('store', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => removeDir(dir));

  it('migrates an empty database into every table, in WAL mode', async () => {
    const file = join(dir, 'sub', 'berth.sqlite');
    const store = await openStore(file);
    await store.close();
    const schema = schemaOf(file).join('\n');
    for (const t of ['servers', 'accounts', 'allocation_history', 'server_samples', 'moves', 'berth_migrations']) expect(schema).to.include(`table ${t} `);
    const db = new SQLite(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
    db.close();
  });

  it('background checkpoint: a worker thread moves the log into the database file, the event loop does not', async () => {
    const insertSome = async (store: Awaited<ReturnType<typeof openStore>>, n: number) => {
      for (let i = 0; i < n; i++) {
        await store.accounts.insert({ account_id: `acc-${i}`, script_id: 'x'.repeat(200), server_id: null, status: 'pending', session_sha256: 'd'.repeat(64), strategy: null, location: null }, new Date().toISOString());
      }
    };
    // 100 commits stay under SQLite's default 1,000-page threshold: without the worker,
    // nothing reaches the database file until close.
    const plainFile = join(dir, 'plain.sqlite');
    const plain = await openStore(plainFile);
    const plainBefore = statSync(plainFile).size;
    await insertSome(plain, 100);
    await sleep(2500);
    expect(statSync(plainFile).size, 'no checkpoint without the worker').to.equal(plainBefore);
    await plain.close();

    const file = join(dir, 'bg.sqlite');
    const store = await openStore(file, { backgroundCheckpoint: true });
    try {
      const rows = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
      expect(rows.rows[0]!.wal_autocheckpoint, 'the event loop checkpoints only as a fallback').to.equal(FALLBACK_CHECKPOINT_PAGES);
      const before = statSync(file).size;
      await insertSome(store, 300);
      await waitFor('a background checkpoint', () => statSync(file).size > before, 10_000);
      expect((await store.accounts.get('acc-299'))!.status).to.equal('pending');
    } finally {
      await store.close();
    }
    const db = new SQLite(file, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n).to.equal(300);
    db.close();
  });

  it('running the migrations again changes nothing', async () => {
    const file = join(dir, 'berth.sqlite');
    const store = await openStore(file);
    await store.db.insertInto('accounts').values({ account_id: 'a1', script_id: 's', server_id: null, status: 'pending', session_sha256: null, strategy: null, location: null, last_error: null, last_moved_at: null, created_at: 'x', updated_at: 'x' }).execute();
    await store.close();
    const before = schemaOf(file);
    const db = openSqlite(file);
    const second = await migrateToLatest(db);
    expect(second.error).to.equal(undefined);
    expect(second.results).to.deep.equal([]);
    const rows = await db.selectFrom('accounts').selectAll().execute();
    await db.destroy();
    expect(rows.map((r) => r.account_id)).to.deep.equal(['a1']);
    expect(schemaOf(file)).to.deep.equal(before);
  });

  it('writes a placement and its history row together, and pages history newest first', async () => {
    const store = await openStore(join(dir, 'b.sqlite'));
    try {
      for (const id of ['a', 'b', 'c']) {
        await store.accounts.insert({ account_id: id, script_id: null, server_id: null, status: 'pending', session_sha256: null, strategy: null, location: null }, 't0');
        await store.ledger.commit({ account_id: id, server_id: 'w1', from_server_id: null, allocation_type: 'initial', load_score: 1.5, strategy: 'load_balance', reason: 'r' }, 't1');
      }
      expect((await store.accounts.get('b'))!.server_id).to.equal('w1');
      const page1 = await store.history.list({ limit: 2 });
      expect(page1.map((r) => r.account_id)).to.deep.equal(['c', 'b']);
      const page2 = await store.history.list({ limit: 2, before: page1[1]!.id });
      expect(page2.map((r) => r.account_id)).to.deep.equal(['a']);
      // A failing transaction leaves neither the account change nor the history row.
      await store.db.schema.alterTable('allocation_history').renameTo('history_gone').execute().catch(() => undefined);
      let failed = false;
      try {
        await store.ledger.commit({ account_id: 'a', server_id: 'w2', from_server_id: 'w1', allocation_type: 'manual', load_score: 1, strategy: null, reason: 'r' }, 't2');
      } catch { failed = true; }
      expect(failed).to.equal(true);
      expect((await store.accounts.get('a'))!.server_id).to.equal('w1');
    } finally {
      await store.close();
    }
  });

  it('prunes samples older than the cutoff only', async () => {
    const store = await openStore(join(dir, 'c.sqlite'));
    try {
      const s = { server_id: 'w', load_score: 1, cpu_percent: 1, memory_percent: 1, disk_percent: 1, accounts: 1 };
      await store.samples.insert([{ ...s, at: '2026-01-01T00:00:00.000Z' }, { ...s, at: '2026-06-01T00:00:00.000Z' }]);
      expect(await store.samples.pruneBefore('2026-03-01T00:00:00.000Z')).to.equal(1);
      expect((await store.samples.listFor('w', '2000')).map((r) => r.at)).to.deep.equal(['2026-06-01T00:00:00.000Z']);
    } finally {
      await store.close();
    }
  });
});
