/**
 * The SQLite opener: the one place that knows the store runs on SQLite
 * (better-sqlite3, WAL). Everything else speaks Kysely's query builder.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, Db } from './database.js';
import { FALLBACK_CHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.js';

/** Options of {@link openSqlite}. */
export interface OpenSqliteOptions {
  /**
   * Checkpoint the write-ahead log from a worker thread ({@link WalCheckpointer}) rather
   * than inside commits on the event loop. The controller turns it on. @defaultValue false
   */
  readonly backgroundCheckpoint?: boolean;
  /** Told when a background checkpoint failed. */
  readonly onCheckpointFailure?: (message: string) => void;
}

const checkpointers = new WeakMap<Db, WalCheckpointer>();

/** Opens (creating when needed) the SQLite database at `file`. */
export function openSqlite(file: string, options: OpenSqliteOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  cachePreparedStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  if (options.backgroundCheckpoint && file !== ':memory:') {
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
    checkpointers.set(db, new WalCheckpointer({ file, ...(options.onCheckpointFailure ? { onFailure: options.onCheckpointFailure } : {}) }));
  }
  return db;
}

/** Closes a database from {@link openSqlite}: its background checkpointer, then the connection. */
export async function closeSqlite(db: Db): Promise<void> {
  await checkpointers.get(db)?.stop();
  await db.destroy();
}

/** Most distinct SQL texts kept prepared. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query afresh; the controller's queries are few and repeated, so
 * keep their prepared statements (bounded, least recently used first out).
 */
function cachePreparedStatements(sqlite: SQLite.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SQLite.Statement>();
  sqlite.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (stmt) {
      cache.delete(source);
    } else {
      stmt = prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, stmt);
    return stmt;
  }) as typeof sqlite.prepare;
}
