/** The first schema: servers, accounts, allocation_history, server_samples, moves. */
import { type Kysely, PostgresAdapter } from 'kysely';

/** Auto-increment integer key, spelled per dialect. */
function serialKey(db: Kysely<any>) {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'serial' : 'integer';
}

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('servers')
    .addColumn('server_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('status_override', 'varchar(16)')
    .addColumn('host_key', 'varchar(128)')
    .addColumn('last_report_at', 'varchar(32)')
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_down_at', 'varchar(32)')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema.createTable('accounts')
    .addColumn('account_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('script_id', 'varchar(256)')
    .addColumn('server_id', 'varchar(64)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('session_sha256', 'varchar(64)')
    .addColumn('strategy', 'varchar(32)')
    .addColumn('location', 'varchar(128)')
    .addColumn('last_error', 'text')
    .addColumn('last_moved_at', 'varchar(32)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('accounts_server_idx').on('accounts').column('server_id').execute();
  await db.schema.createIndex('accounts_status_idx').on('accounts').column('status').execute();

  await db.schema.createTable('allocation_history')
    .addColumn('id', serialKey(db), (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('server_id', 'varchar(64)')
    .addColumn('from_server_id', 'varchar(64)')
    .addColumn('allocation_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('load_score', 'real')
    .addColumn('strategy', 'varchar(32)')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('history_account_idx').on('allocation_history').columns(['account_id', 'id']).execute();
  await db.schema.createIndex('history_server_idx').on('allocation_history').columns(['server_id', 'id']).execute();

  await db.schema.createTable('server_samples')
    .addColumn('id', serialKey(db), (c) => c.primaryKey().autoIncrement())
    .addColumn('server_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('load_score', 'real', (c) => c.notNull())
    .addColumn('cpu_percent', 'real', (c) => c.notNull())
    .addColumn('memory_percent', 'real', (c) => c.notNull())
    .addColumn('disk_percent', 'real', (c) => c.notNull())
    .addColumn('accounts', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('samples_at_idx').on('server_samples').column('at').execute();

  await db.schema.createTable('moves')
    .addColumn('account_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('from_server_id', 'varchar(64)')
    .addColumn('to_server_id', 'varchar(64)')
    .addColumn('phase', 'varchar(16)', (c) => c.notNull())
    .addColumn('allocation_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['moves', 'server_samples', 'allocation_history', 'accounts', 'servers']) {
    await db.schema.dropTable(t).execute();
  }
}
