/**
 * Types of the placement pipeline (SPEC §3). Placement is pure: it reads a snapshot of
 * the fleet and a request and does no I/O.
 */

/** Placement strategies a request may name. */
export const STRATEGIES = ['load_balance', 'location', 'affinity', 'isolation'] as const;
/** One of {@link STRATEGIES}. */
export type Strategy = (typeof STRATEGIES)[number];

/** Server status: `active` takes accounts, `draining` moves them away, `disabled` keeps them. */
export type ServerStatus = 'active' | 'draining' | 'disabled';

/** Weights of the load score, normalised to sum 1. */
export interface Weights {
  cpu: number;
  memory: number;
  accounts: number;
  disk: number;
}

/**
 * What placement knows of one server. The fleet keeps these objects live; placement
 * only reads them.
 */
export interface ServerView {
  readonly server_id: string;
  readonly status: ServerStatus;
  readonly location: string | null;
  readonly max_accounts: number;
  /** Agent connected and its last report younger than `down_after_ms`. */
  readonly healthy: boolean;
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
  /** Accounts the controller assigned here, including placements in flight. */
  readonly accounts: number;
  /** JSON bytes of those accounts' ids as the agent protocol lists them (see `accountListBytes`). */
  readonly account_list_bytes: number;
  /** Accounts per script id on this server, including placements in flight. */
  readonly scripts: ReadonlyMap<string, number>;
  /** Went down within the last hour. */
  readonly down_recently: boolean;
}

/** What to place. */
export interface PlacementRequest {
  readonly account_id: string;
  readonly script_id: string | null;
  readonly strategy: Strategy;
  readonly location: string | null;
  /** With `location`: refuse instead of falling back to `load_balance`. */
  readonly strict: boolean;
  /** Servers not to consider (the account's current server, servers already tried). */
  readonly exclude: ReadonlySet<string> | null;
  /** Build the per-server explanation even on success. */
  readonly explain: boolean;
}

/** A server's load score and its parts, each already multiplied by its weight. */
export interface ScoreBreakdown {
  cpu: number;
  memory: number;
  accounts: number;
  disk: number;
  total: number;
}

/** One server as the decision saw it. */
export interface Candidate {
  server_id: string;
  eligible: boolean;
  reasons: string[];
  load_score: number;
  /** The score's parts; absent where it was not asked for (rankings without `explain`). */
  breakdown?: ScoreBreakdown;
}

/** A successful placement. */
export interface Placement {
  server_id: string;
  strategy: Strategy;
  /** The chosen server's score when chosen, before the new account counts. */
  load_score: number;
  reason: string;
  /** Present when `explain` was asked. */
  candidates?: Candidate[];
}

/** No server could take the account; every server's reasons are listed. */
export interface NoEligibleServer {
  code: 'NO_ELIGIBLE_SERVER';
  message: string;
  candidates: Candidate[];
}

/**
 * A feasibility check (SPEC §3 "eligibility"), after Nomad's feasibility checkers and
 * the Kubernetes scheduler's Filter plugins. Each filter file exports one object that
 * `satisfies Filter`; the registry lists them cheapest first.
 */
export interface Filter {
  /** Short name, e.g. `capacity`. */
  readonly name: string;
  /** Whether this filter has anything to check for the request (e.g. location only for strategy `location`). */
  applies(request: PlacementRequest): boolean;
  /** True when the server may take the account. Runs on the hot path: must not allocate. */
  passes(server: ServerView, request: PlacementRequest): boolean;
  /** Why {@link Filter.passes} was false, for people ("full: 5/5 accounts"). Explain path only. */
  reason(server: ServerView, request: PlacementRequest): string;
}

/** The query of GET /allocation/rankings: a request without an account. */
export interface RankingRequest {
  /** @defaultValue `'load_balance'` */
  readonly strategy?: Strategy;
  readonly script_id?: string | null;
  readonly location?: string | null;
  readonly strict?: boolean;
  readonly exclude?: ReadonlySet<string> | null;
}

/**
 * Accounts per script id by server position, kept beside a server list so a strategy
 * reads an array slot instead of one Map lookup per server. Optional: without it,
 * strategies read {@link ServerView.scripts}; with it, the two must agree.
 */
export interface ScriptCounts {
  /**
   * Counts of `scriptId` aligned with the server list (`counts[i]` is for `servers[i]`),
   * or undefined when no server has an account of it.
   */
  of(scriptId: string): ArrayLike<number> | undefined;
}
