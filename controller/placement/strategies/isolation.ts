/**
 * `isolation`: spread one script's accounts for fault isolation (SPEC §3). Among eligible
 * servers, prefer (in order): not down in the last hour while any other is eligible;
 * fewest accounts of the same `script_id` on the server; fewest of them in the server's
 * location (summed over every server of that location, eligible or not); the lowest
 * load score; the smallest server id. A server without a location counts only its own
 * accounts.
 *
 * One pass over the fleet: the location sums are not known until its end, but within
 * one location the sum is the same for every server, so the pass keeps the best server
 * of each location (by the other keys) and the location sums; the winner is then chosen
 * among those few.
 */
import { formatScore, loadScore } from '../scorers/load-score.js';
import type { ServerView, Weights } from '../types.js';
import type { Choice, PlacementStrategy, StrategyInput } from './strategy.js';
import { eligibleCount, noneFits, ranksBefore } from './strategy.js';

/** Integer keys packed into one exact double: down·2^51 + same·2^26 (+ location sum). */
const SAME_UNIT = 2 ** 26;
const DOWN_UNIT = 2 ** 51;
const SAME_MAX = 2 ** 25 - 1;
const LOC_MAX = SAME_UNIT - 1;
/** Bucket of servers without a location. */
const NO_LOCATION = 0;
/** Past this many locations, slots are found through a Map instead of a linear scan. */
const SCAN_LIMIT = 16;

/**
 * Per-location scratch of one decision: location slots, the script's sum per location
 * and the best server per location. Reused across decisions, so a decision allocates
 * nothing per server.
 */
export class LocationBuckets {
  /** Location name of each slot; slot 0 holds servers without a location. */
  readonly names: (string | null)[] = [null];
  /** The script's accounts per slot (unused for slot 0). */
  sums = new Float64Array(32);
  /** Best server index per slot, -1 when none eligible. */
  bestIndex = new Int32Array(32);
  /** Best packed key (down, same) per slot. */
  bestKey = new Float64Array(32);
  /** Best exact score per slot. */
  bestScore = new Float64Array(32);
  /** Best server's own count of the script per slot. */
  bestSame = new Float64Array(32);
  private readonly index = new Map<string, number>();

  /** Forgets the previous decision. */
  reset(): void {
    this.sums.fill(0, 0, this.names.length);
    this.bestIndex.fill(-1, 0, this.names.length);
    this.names.length = 1;
    this.index.clear();
  }

  /** The slot of a location, made on first sight. */
  slotOf(location: string): number {
    const names = this.names;
    if (names.length <= SCAN_LIMIT) {
      for (let j = 1; j < names.length; j++) if (names[j] === location) return j;
    } else {
      const at = this.index.get(location);
      if (at !== undefined) return at;
    }
    const at = names.length;
    names.push(location);
    if (at === SCAN_LIMIT) for (let j = 1; j <= at; j++) this.index.set(names[j]!, j);
    else if (at > SCAN_LIMIT) this.index.set(location, at);
    if (at >= this.sums.length) this.grow();
    this.sums[at] = 0;
    this.bestIndex[at] = -1;
    return at;
  }

  private grow(): void {
    const size = 2 * this.sums.length;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.sums = grow(this.sums, (n) => new Float64Array(n));
    this.bestIndex = grow(this.bestIndex, (n) => new Int32Array(n));
    this.bestKey = grow(this.bestKey, (n) => new Float64Array(n));
    this.bestScore = grow(this.bestScore, (n) => new Float64Array(n));
    this.bestSame = grow(this.bestSame, (n) => new Float64Array(n));
  }
}

const buckets = new LocationBuckets();

/** An empty count array: a script no server runs. */
const NONE: ArrayLike<number> = new Float64Array(0);

function chooseByIsolation({ servers, request, weights, eligible, counts }: StrategyInput): Choice {
  const script = request.script_id;
  // With the caller's count arrays, a server's count is an array read (0 past the end).
  const column = counts && script !== null ? (counts.of(script) ?? NONE) : null;
  const b = buckets;
  b.reset();
  let count = 0;
  let countDown = 0;
  // The smallest (down, same) key seen: a server above it cannot win, whatever its location.
  let floor = Infinity;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]!;
    const same = script === null ? 0 : column !== null ? (column[i] ?? 0) : (server.scripts.get(script) ?? 0);
    if (!eligible(server, request)) {
      if (same > 0 && server.location !== null) b.sums[b.slotOf(server.location)] += same;
      continue;
    }
    count++;
    const down = server.down_recently ? 1 : 0;
    countDown += down;
    const key = down * DOWN_UNIT + (same < SAME_MAX ? same : SAME_MAX) * SAME_UNIT;
    if (key > floor) {
      if (same > 0 && server.location !== null) b.sums[b.slotOf(server.location)] += same;
      continue;
    }
    floor = key;
    const slot = script === null || server.location === null ? NO_LOCATION : b.slotOf(server.location);
    b.sums[slot] += same;
    const held = b.bestIndex[slot]!;
    if (held >= 0 && key > b.bestKey[slot]!) continue;
    const score = loadScore(server, weights);
    if (held >= 0 && key === b.bestKey[slot]! && !ranksBefore(score, server.server_id, b.bestScore[slot]!, servers[held]!.server_id)) continue;
    b.bestIndex[slot] = i;
    b.bestKey[slot] = key;
    b.bestScore[slot] = score;
    b.bestSame[slot] = same;
  }
  // The winner among each location's best, now that the location sums are known.
  let best = -1, bestKey = 0, bestScore = 0, bestLoc = 0, bestSame = 0;
  for (let slot = 0; slot < b.names.length; slot++) {
    const i = b.bestIndex[slot]!;
    if (i < 0) continue;
    const loc = slot === NO_LOCATION ? b.bestSame[slot]! : b.sums[slot]!;
    const key = b.bestKey[slot]! + (loc < LOC_MAX ? loc : LOC_MAX);
    const score = b.bestScore[slot]!;
    if (best >= 0 && (key > bestKey || (key === bestKey && !ranksBefore(score, servers[i]!.server_id, bestScore, servers[best]!.server_id)))) continue;
    best = i; bestKey = key; bestScore = score; bestLoc = loc; bestSame = b.bestSame[slot]!;
  }
  if (best < 0) return noneFits(`no eligible server among ${servers.length}`);
  return { index: best, score: bestScore, reason: isolationReason(servers[best]!, script, bestKey >= DOWN_UNIT, bestSame, bestLoc, bestScore, count, countDown), ruled: true };
}

function isolationReason(
  chosen: ServerView,
  script: string | null,
  down: boolean,
  same: number,
  loc: number,
  score: number,
  count: number,
  countDown: number,
): string {
  const head = script === null
    ? 'no script_id given; lowest load score'
    : `fewest accounts of script ${script}: ${same} on the server, ${loc} in ${chosen.location ?? 'its location'}; load score`;
  const tail = down
    ? '; every eligible server went down in the last hour'
    : countDown > 0 ? `; avoided ${countDown} that went down in the last hour` : '';
  return `${head} ${formatScore(score)} among ${eligibleCount(count)}${tail}`;
}

/** The `isolation` strategy. */
export const isolationStrategy = {
  name: 'isolation',
  filters: [],
  choose: chooseByIsolation,
} as const satisfies PlacementStrategy;

/**
 * The isolation order of eligible servers, for rankings: not down recently (while any
 * other is eligible), then fewest of the script on the server, then fewest in its
 * location, then the lowest score, then the id. Explain path only: allocates freely.
 */
export function isolationOrder(servers: readonly ServerView[], script: string | null, eligibleIds: ReadonlySet<string>, weights: Readonly<Weights>): (a: string, b: string) => number {
  const byId = new Map(servers.map((s) => [s.server_id, s]));
  const perLocation = new Map<string, number>();
  if (script !== null) {
    for (const s of servers) {
      const n = s.scripts.get(script) ?? 0;
      if (n > 0 && s.location !== null) perLocation.set(s.location, (perLocation.get(s.location) ?? 0) + n);
    }
  }
  const anyUp = servers.some((s) => eligibleIds.has(s.server_id) && !s.down_recently);
  const key = (id: string): number[] => {
    const s = byId.get(id)!;
    const same = script === null ? 0 : (s.scripts.get(script) ?? 0);
    const loc = script === null ? 0 : s.location === null ? same : (perLocation.get(s.location) ?? 0);
    return [anyUp && s.down_recently ? 1 : 0, same, loc, loadScore(s, weights)];
  };
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}
