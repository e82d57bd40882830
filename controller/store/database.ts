/**
 * Table types of the Berth store (SPEC §8). Timestamps are ISO-8601 UTC strings so the
 * schema stays the same on SQLite and PostgreSQL.
 */
import type { Generated, Kysely, Selectable } from 'kysely';

/** Runtime state of a configured server. */
export interface ServersTable {
  server_id: string;
  /** Admin override of the configured status; null = use the config. */
  status_override: string | null;
  /** Host key recorded on first use (`SHA256:…`). */
  host_key: string | null;
  last_report_at: string | null;
  consecutive_failures: number;
  /** When the server last went down; drives isolation's "down recently". */
  last_down_at: string | null;
  updated_at: string;
}

/** Account lifecycle. */
export type AccountStatus = 'pending' | 'allocated' | 'moving' | 'orphaned';

/** An account and where it lives. */
export interface AccountsTable {
  account_id: string;
  script_id: string | null;
  server_id: string | null;
  status: AccountStatus;
  session_sha256: string | null;
  /** Preferred strategy and location for (re-)placement. */
  strategy: string | null;
  location: string | null;
  last_error: string | null;
  last_moved_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Every placement decision, explained. */
export interface AllocationHistoryTable {
  id: Generated<number>;
  account_id: string;
  server_id: string | null;
  from_server_id: string | null;
  allocation_type: string;
  load_score: number | null;
  strategy: string | null;
  reason: string;
  created_at: string;
}

/** Load of each server over time, at most one row a minute per server. */
export interface ServerSamplesTable {
  id: Generated<number>;
  server_id: string;
  at: string;
  load_score: number;
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  accounts: number;
}

/**
 * A move in progress: written before the old copy is fenced and deleted once the new
 * placement is committed, so a restart can finish or roll back what a crash cut short.
 */
export interface MovesTable {
  account_id: string;
  from_server_id: string | null;
  to_server_id: string | null;
  /** `fencing` → old copy being collected; `placing` → collected, new copy being uploaded. */
  phase: string;
  allocation_type: string;
  created_at: string;
}

/** The whole schema. */
export interface Database {
  servers: ServersTable;
  accounts: AccountsTable;
  allocation_history: AllocationHistoryTable;
  server_samples: ServerSamplesTable;
  moves: MovesTable;
}

/** The Kysely handle used throughout the controller. */
export type Db = Kysely<Database>;

export type AccountRow = Selectable<AccountsTable>;
export type HistoryRow = Selectable<AllocationHistoryTable>;
export type ServerRow = Selectable<ServersTable>;
export type MoveRow = Selectable<MovesTable>;
