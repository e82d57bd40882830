/**
 * Runs the store's migrations. Safe to run on every start: applied migrations are
 * skipped, so a second run changes nothing.
 */
import { Migrator, type Migration, type MigrationResultSet } from 'kysely';
import type { Db } from './database.js';
import * as m001 from './migrations/001-initial.js';

/** Every migration, in order. Append only. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '001-initial': m001,
});

/** Brings the schema up to date; returns Kysely's result set (never throws on failure). */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
    migrationTableName: 'berth_migrations',
    migrationLockTableName: 'berth_migrations_lock',
  });
  return migrator.migrateToLatest();
}
