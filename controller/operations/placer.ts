/**
 * Places one session on the best server and confirms it there: choose (pure
 * pipeline), reserve the slot, upload, then write the account's server and its history
 * row in one transaction. A failed upload releases the slot and the next-best server
 * is tried, at most {@link MAX_ATTEMPTS} servers.
 */
import { BerthError, isBerthError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Fleet } from '../fleet/fleet.js';
import { place } from '../placement/pipeline.js';
import type { Candidate, PlacementRequest, Strategy, Weights } from '../placement/types.js';
import type { PlacementLedger } from '../store/placement-ledger.js';
import type { SessionTransfer } from '../transfer/session-transfer.js';
import type { AllocationResult } from './types.js';

/** Servers tried for one placement before giving up. */
export const MAX_ATTEMPTS = 3;

/** What to place. */
export interface PlaceJob {
  account_id: string;
  script_id: string | null;
  bytes: Buffer;
  strategy: Strategy;
  location: string | null;
  strict: boolean;
  /** Manual placement on this server only. */
  server_id?: string | undefined;
  allocation_type: string;
  from_server_id: string | null;
  /** Servers not to use (the source of a move). */
  exclude?: readonly string[];
  explain: boolean;
  /** Extra words for the history reason (why the move happened). */
  context?: string;
}

/** Observers of placements (metrics, alerts). */
export interface PlacerHooks {
  uploaded?(serverId: string, seconds: number, ok: boolean): void;
  /** A placement was committed (any `allocation_type`). */
  committed?(serverId: string, allocationType: string): void;
}

/** Options of the {@link Placer}. */
export interface PlacerOptions {
  fleet: Fleet;
  transfer: SessionTransfer;
  ledger: PlacementLedger;
  logger: Logger;
  settings: () => { weights: Weights; upload_timeout_ms: number };
  hooks?: PlacerHooks;
  now?: () => string;
}

/** Chooses, uploads and records placements. */
export class Placer {
  constructor(private readonly o: PlacerOptions) {}

  /** Builds the pipeline request for a job. */
  request(job: PlaceJob, exclude: Set<string>): PlacementRequest {
    if (job.server_id !== undefined) {
      for (const s of this.o.fleet.servers) if (s.server_id !== job.server_id) exclude.add(s.server_id);
    }
    return {
      account_id: job.account_id, script_id: job.script_id, strategy: job.strategy, location: job.location,
      strict: job.strict, exclude, explain: job.explain,
    };
  }

  /** Chooses without placing (dry run). Throws NO_ELIGIBLE_SERVER. */
  choose(job: PlaceJob): { server_id: string; load_score: number; reason: string; candidates?: Candidate[] } {
    const exclude = new Set(job.exclude ?? []);
    const result = place(this.o.fleet.servers, this.request(job, exclude), this.o.settings().weights, this.o.fleet.scriptCounts);
    if (!result.ok) throw noEligible(result.error.message, result.error.candidates);
    return result.value;
  }

  /**
   * Places the session and commits the placement. Throws NO_ELIGIBLE_SERVER (503) when no
   * server fits, or the last upload error when every attempt failed.
   */
  async placeAndCommit(job: PlaceJob): Promise<AllocationResult> {
    const { fleet, transfer, ledger, logger } = this.o;
    const started = Date.now();
    const exclude = new Set(job.exclude ?? []);
    const errors: { server_id: string; code: string; message: string }[] = [];
    let firstCandidates: Candidate[] | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const settings = this.o.settings();
      const decided = place(fleet.servers, this.request(job, exclude), settings.weights, fleet.scriptCounts);
      if (!decided.ok) {
        if (errors.length > 0) break;
        throw noEligible(decided.error.message, decided.error.candidates);
      }
      const choice = decided.value;
      firstCandidates ??= choice.candidates;
      const reservation = fleet.reserve(choice.server_id, job.account_id, job.script_id);
      const t0 = performance.now();
      let landed = false;
      try {
        await ledger.begin({ account_id: job.account_id, from_server_id: job.from_server_id, to_server_id: choice.server_id, phase: 'placing', allocation_type: job.allocation_type }, this.now());
        const up = await transfer.upload(choice.server_id, job.account_id, job.bytes, { timeoutMs: settings.upload_timeout_ms });
        landed = true;
        this.o.hooks?.uploaded?.(choice.server_id, (performance.now() - t0) / 1000, true);
        const reason = [choice.reason, ...(errors.length ? [`after ${errors.length} failed upload(s): ${errors.map((e) => `${e.server_id} ${e.code}`).join(', ')}`] : []), ...(job.context ? [job.context] : [])].join('; ');
        await ledger.commit({
          account_id: job.account_id, server_id: choice.server_id, from_server_id: job.from_server_id,
          allocation_type: job.allocation_type, load_score: choice.load_score, strategy: choice.strategy, reason,
        }, this.now());
        reservation.commit();
        this.o.hooks?.committed?.(choice.server_id, job.allocation_type);
        return {
          account_id: job.account_id, server_id: choice.server_id, allocation_type: job.allocation_type,
          strategy: choice.strategy, load_score: choice.load_score, reason, remote_path: up.remote_path,
          duration_ms: Date.now() - started, ...(firstCandidates ? { candidates: firstCandidates } : {}),
        };
      } catch (e) {
        reservation.release();
        if (!landed) this.o.hooks?.uploaded?.(choice.server_id, (performance.now() - t0) / 1000, false);
        const code = isBerthError(e) ? e.code : 'UPLOAD_FAILED';
        errors.push({ server_id: choice.server_id, code, message: landed ? 'the upload landed but the placement could not be recorded' : (e as Error).message });
        logger.warn({ account_id: job.account_id, server_id: choice.server_id, code, attempt: attempt + 1, landed }, 'placement attempt failed');
        // A copy that landed (or may have) must be gone before another server gets one.
        if (landed || (isBerthError(e) && e.details?.maybe_placed === true)) await this.fenceUncertain(choice.server_id, job.account_id);
        await ledger.abandon(job.account_id).catch(() => undefined);
        exclude.add(choice.server_id);
        if (job.server_id !== undefined) break;
      }
    }
    throw new BerthError(failureCode(errors.map((e) => e.code)),
      `could not place account ${job.account_id}: ${errors.map((e) => `${e.server_id}: ${e.message}`).join('; ')}`,
      { attempts: errors });
  }

  /**
   * An upload whose rename may have happened: the copy may be live there. Remove it
   * before trying elsewhere, or refuse to go on.
   */
  private async fenceUncertain(serverId: string, accountId: string): Promise<void> {
    try {
      await this.o.transfer.remove(serverId, accountId, { timeoutMs: this.o.settings().upload_timeout_ms });
    } catch (e) {
      throw new BerthError('UPLOAD_FAILED', `upload to ${serverId} may have landed and the copy could not be removed; not trying another server`, { server_id: serverId, maybe_live: true }, { cause: e });
    }
  }

  private now(): string {
    return this.o.now?.() ?? new Date().toISOString();
  }
}

/** The 503 answer with every server's reasons. */
export function noEligible(message: string, candidates: Candidate[]): BerthError {
  return new BerthError('NO_ELIGIBLE_SERVER', message, {
    servers: candidates.map((c) => ({ server_id: c.server_id, eligible: c.eligible, reasons: c.reasons, load_score: c.load_score })),
  });
}

/** Codes a failed placement may answer with when every attempt failed the same way. */
const SAME_FAILURE_CODES: ReadonlySet<string> = new Set<ErrorCode>(['TIMEOUT', 'HOST_KEY_MISMATCH', 'SHUTTING_DOWN']);

/** The code of a placement whose every attempt failed: theirs when they agree, else UPLOAD_FAILED. */
function failureCode(codes: readonly string[]): ErrorCode {
  const first = codes[0];
  return first !== undefined && SAME_FAILURE_CODES.has(first) && codes.every((c) => c === first) ? first as ErrorCode : 'UPLOAD_FAILED';
}
