/**
 * The flows that change where accounts live, as the HTTP layer and the jobs see them.
 * Implemented by the operations in this folder; every one fences before it places.
 */
import type { Candidate, ServerStatus, Strategy } from '../placement/types.js';

/** A request to place an account (POST /allocation/allocate). */
export interface AllocateRequest {
  account_id: string;
  session_file?: string | undefined;
  script_id?: string | null | undefined;
  strategy?: Strategy | undefined;
  location?: string | null | undefined;
  strict?: boolean | undefined;
  server_id?: string | undefined;
  dry_run?: boolean | undefined;
  explain?: boolean | undefined;
}

/** The answer of a placement (SPEC §5). */
export interface AllocationResult {
  account_id: string;
  server_id: string;
  allocation_type: string;
  strategy: Strategy;
  load_score: number;
  reason: string;
  remote_path: string;
  duration_ms: number;
  dry_run?: true;
  candidates?: Candidate[];
}

/** One planned or performed migration. */
export interface MigrationResult {
  account_id: string;
  from_server_id: string;
  to_server_id: string;
  status: 'planned' | 'moved' | 'failed' | 'skipped';
  error?: string;
}

/** Spread figures of a rebalance. */
export interface SpreadFigures {
  max_score: number;
  min_score: number;
  spread: number;
}

/** The answer of POST /allocation/rebalance. */
export interface RebalanceResult {
  dry_run: boolean;
  threshold: number;
  before: SpreadFigures;
  after: SpreadFigures;
  migrations: MigrationResult[];
}

/** The answer of a drain. */
export interface DrainResult {
  migrations: MigrationResult[];
}

/** Everything the API can ask the controller to do. */
export interface Operations {
  allocate(req: AllocateRequest): Promise<AllocationResult>;
  rebalance(opts: { threshold?: number | undefined; max_migrations?: number | undefined; dry_run?: boolean | undefined }): Promise<RebalanceResult>;
  moveAccount(accountId: string, serverId: string | undefined): Promise<AllocationResult>;
  releaseAccount(accountId: string): Promise<{ account_id: string; released_from: string | null; session_sha256: string | null }>;
  setServerStatus(serverId: string, status: ServerStatus | null, reason: string): Promise<void>;
  drain(serverId: string): Promise<DrainResult>;
}
