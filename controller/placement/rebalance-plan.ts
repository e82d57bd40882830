/**
 * The rebalance planner (SPEC §7), pure: from a snapshot of the fleet it plans which
 * accounts to move, predicting each move's effect, and does nothing itself.
 *
 * - The spread is the highest minus the lowest score among `active`, healthy servers.
 * - While the spread is above `threshold` and fewer than `max_migrations` moves are
 *   planned, one account moves from the highest-score server to the lowest-score server
 *   that may take accounts (active, healthy, under capacity, disk < 95 %).
 * - The account takes its share of the source's cpu and memory with it
 *   (`cpu / accounts`), and the account counts change by one.
 * - A move that would leave the target's predicted score above the source's score before
 *   the move is not made; nor is an account moved twice in a run or again within
 *   `cooldown_ms`. A source with nothing left to move is set aside and the next-highest
 *   server is tried.
 * - Deterministic: servers tie by id, a source's accounts are taken in id order.
 *
 * Cost: O(n log n + moves · (log n + accounts of the source)).
 */
import { accountListBytes } from '../../shared/protocol.js';
import { ROOM_FOR_ANY_ID } from './filters/capacity.js';
import { DISK_LIMIT_PERCENT } from './filters/disk.js';
import { LazyHeap } from './lazy-heap.js';
import { normaliseWeights, roundScore, scoreOf } from './scorers/load-score.js';
import type { ServerView, Weights } from './types.js';

/** An account the planner may move. */
export interface RebalanceAccount {
  readonly account_id: string;
  readonly script_id: string | null;
  /** When the account last moved (epoch ms), null when never. */
  readonly last_moved_at: number | null;
}

/** A server and the accounts assigned to it. */
export interface RebalanceServer {
  readonly server: ServerView;
  readonly accounts: readonly RebalanceAccount[];
}

/** Limits of one planning run. */
export interface RebalanceOptions {
  /** Stop once the spread is at most this many points. @defaultValue 30 (SPEC §5) */
  readonly threshold: number;
  /** At most this many moves. @defaultValue 10 */
  readonly max_migrations: number;
  /** An account moved less than this long ago stays. @defaultValue 1800000 */
  readonly cooldown_ms: number;
  /** The planner's clock (epoch ms). */
  readonly now: number;
}

/** Highest and lowest score among active healthy servers, rounded for display. */
export interface SpreadSummary {
  max_score: number;
  min_score: number;
  spread: number;
}

/** One planned move, with both servers' predicted scores after it. */
export interface PlannedMove {
  account_id: string;
  from_server_id: string;
  to_server_id: string;
  predicted_from_score: number;
  predicted_to_score: number;
}

/** The plan: the spread before, the predicted spread after, and the moves in order. */
export interface RebalancePlan {
  before: SpreadSummary;
  after: SpreadSummary;
  moves: PlannedMove[];
}

/** Plans a rebalance. Throws `INVALID_REQUEST` only for invalid weights. */
export function planRebalance(servers: readonly RebalanceServer[], weights: Weights, options: RebalanceOptions): RebalancePlan {
  const w = normaliseWeights(weights);
  const set = servers
    .filter((s) => s.server.status === 'active' && s.server.healthy)
    .sort((a, b) => (a.server.server_id < b.server.server_id ? -1 : a.server.server_id > b.server.server_id ? 1 : 0));
  const n = set.length;
  const cpu = new Float64Array(n);
  const mem = new Float64Array(n);
  const acc = new Float64Array(n);
  const score = new Float64Array(n);
  /** Each server's account list, JSON bytes (the capacity filter's frame limit). */
  const listBytes = new Float64Array(n);
  const version = new Uint32Array(n);
  const setAside = new Uint8Array(n);
  const rescore = (i: number): void => {
    const s = set[i]!.server;
    score[i] = scoreOf(cpu[i]!, mem[i]!, acc[i]!, s.max_accounts, s.disk_percent, w);
  };

  const highest = new LazyHeap({ highestFirst: true });
  const lowest = new LazyHeap({ highestFirst: false });
  const sources = new LazyHeap({ highestFirst: true });
  const targets = new LazyHeap({ highestFirst: false });
  const pushAll = (i: number): void => {
    highest.push(i, version[i]!, score[i]!);
    lowest.push(i, version[i]!, score[i]!);
    if (!setAside[i]) sources.push(i, version[i]!, score[i]!);
    targets.push(i, version[i]!, score[i]!);
  };
  for (let i = 0; i < n; i++) {
    const { server, accounts } = set[i]!;
    cpu[i] = server.cpu_percent;
    mem[i] = server.memory_percent;
    acc[i] = Math.max(server.accounts, accounts.length);
    listBytes[i] = server.account_list_bytes;
    rescore(i);
    pushAll(i);
  }

  const current = (i: number, v: number): boolean => version[i] === v;
  // As the capacity filter: a target's list must keep room for any id (the account is
  // chosen after the target; max_accounts already stays under the list's id limit).
  const canTake = (i: number, v: number): boolean =>
    version[i] === v && acc[i]! < set[i]!.server.max_accounts && listBytes[i]! <= ROOM_FOR_ANY_ID &&
    set[i]!.server.disk_percent < DISK_LIMIT_PERCENT;
  const stillSource = (i: number, v: number): boolean => version[i] === v && setAside[i] === 0;
  const summary = (): SpreadSummary => {
    const hi = highest.peek(current);
    const lo = lowest.peek(current);
    if (hi < 0 || lo < 0) return { max_score: 0, min_score: 0, spread: 0 };
    return { max_score: roundScore(score[hi]!), min_score: roundScore(score[lo]!), spread: roundScore(score[hi]! - score[lo]!) };
  };

  const before = summary();
  const moves: PlannedMove[] = [];
  const moved = new Set<string>();
  const queues = new MovableQueues(set, moved, options);
  while (moves.length < options.max_migrations) {
    const hi = highest.peek(current);
    const lo = lowest.peek(current);
    if (hi < 0 || score[hi]! - score[lo]! <= options.threshold) break;
    const from = sources.peek(stillSource);
    const to = targets.peek(canTake);
    if (from < 0 || to < 0) break;
    const account = from === to ? null : queues.peek(from);
    if (account === null) {
      setAside[from] = 1;
      continue;
    }
    const share = 1 / Math.max(acc[from]!, 1);
    const cpuShare = cpu[from]! * share;
    const memShare = mem[from]! * share;
    const toServer = set[to]!.server;
    const predictedTo = scoreOf(cpu[to]! + cpuShare, mem[to]! + memShare, acc[to]! + 1, toServer.max_accounts, toServer.disk_percent, w);
    if (predictedTo > score[from]!) {
      setAside[from] = 1;
      continue;
    }
    cpu[from] -= cpuShare;
    mem[from] -= memShare;
    acc[from] -= 1;
    cpu[to] += cpuShare;
    mem[to] += memShare;
    acc[to] += 1;
    const bytes = accountListBytes(account.account_id);
    listBytes[from] -= bytes;
    listBytes[to] += bytes;
    rescore(from);
    rescore(to);
    version[from]! += 1;
    version[to]! += 1;
    pushAll(from);
    pushAll(to);
    moved.add(account.account_id);
    queues.shift(from);
    moves.push({
      account_id: account.account_id,
      from_server_id: set[from]!.server.server_id,
      to_server_id: toServer.server_id,
      predicted_from_score: roundScore(score[from]!),
      predicted_to_score: roundScore(score[to]!),
    });
  }
  return { before, after: summary(), moves };
}

/**
 * Each source's movable accounts in id order (not moved within the cooldown), built the
 * first time the server is a source, with a cursor: taking the next account is O(1).
 */
class MovableQueues {
  private readonly queues: (RebalanceAccount[] | undefined)[];
  private readonly cursor: Int32Array;

  constructor(
    private readonly set: readonly RebalanceServer[],
    private readonly moved: ReadonlySet<string>,
    private readonly options: RebalanceOptions,
  ) {
    this.queues = new Array<RebalanceAccount[] | undefined>(set.length);
    this.cursor = new Int32Array(set.length);
  }

  /** The next account server `i` may give away, or null. */
  peek(i: number): RebalanceAccount | null {
    let queue = this.queues[i];
    if (queue === undefined) {
      const { now, cooldown_ms } = this.options;
      queue = this.set[i]!.accounts.filter((a) => a.last_moved_at === null || now - a.last_moved_at >= cooldown_ms);
      if (!sortedById(queue)) queue.sort((a, b) => (a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : 0));
      this.queues[i] = queue;
    }
    // An account listed twice (on two servers) moves once.
    while (this.cursor[i]! < queue.length && this.moved.has(queue[this.cursor[i]!]!.account_id)) this.cursor[i]! += 1;
    return this.cursor[i]! < queue.length ? queue[this.cursor[i]!]! : null;
  }

  /** Server `i` gave away the account {@link MovableQueues.peek} returned. */
  shift(i: number): void {
    this.cursor[i]! += 1;
  }
}

function sortedById(accounts: readonly RebalanceAccount[]): boolean {
  for (let i = 1; i < accounts.length; i++) if (accounts[i - 1]!.account_id > accounts[i]!.account_id) return false;
  return true;
}
