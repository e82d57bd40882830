/** The store facade: the database handle and one repo per table. */
import { sql } from 'kysely';
import type { Db } from './database.js';
import { migrateToLatest } from './migrate.js';
import { closeSqlite, openSqlite, type OpenSqliteOptions } from './open-sqlite.js';
import { AccountsRepo } from './accounts-repo.js';
import { HistoryRepo } from './history-repo.js';
import { PlacementLedger } from './placement-ledger.js';
import { SamplesRepo } from './samples-repo.js';
import { ServersRepo } from './servers-repo.js';

/** Everything the controller persists. */
export interface Store {
  readonly db: Db;
  readonly accounts: AccountsRepo;
  readonly history: HistoryRepo;
  readonly samples: SamplesRepo;
  readonly servers: ServersRepo;
  readonly ledger: PlacementLedger;
  /** Quick liveness probe of the database. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Wraps an open database in repos. */
export function createStore(db: Db): Store {
  return {
    db,
    accounts: new AccountsRepo(db),
    history: new HistoryRepo(db),
    samples: new SamplesRepo(db),
    servers: new ServersRepo(db),
    ledger: new PlacementLedger(db),
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    close: () => closeSqlite(db),
  };
}

/** Opens the SQLite store at `file` and migrates it; throws when a migration fails. */
export async function openStore(file: string, options: OpenSqliteOptions = {}): Promise<Store> {
  const db = openSqlite(file, options);
  const result = await migrateToLatest(db);
  if (result.error) {
    await closeSqlite(db);
    throw new Error(`database migration failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return createStore(db);
}
