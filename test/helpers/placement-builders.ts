/**
 * Builders for placement tests and benchmarks: a {@link ServerView} with sensible
 * defaults, a {@link PlacementRequest}, and a seeded, reproducible fleet generator.
 */
import type { PlacementRequest, ServerView } from '../../controller/placement/types.js';

/** A mutable ServerView, so tests can simulate placements by bumping `accounts`. */
export type MutableServerView = { -readonly [K in keyof ServerView]: ServerView[K] } & { scripts: Map<string, number> };

/** Overrides for {@link serverView}; `scripts` may be a plain object. */
export type ServerOverrides = Partial<Omit<ServerView, 'scripts'>> & { scripts?: Record<string, number> | Map<string, number> };

/** An active, healthy, empty server (10 slots, 0 % everywhere) with the given overrides. */
export function serverView(server_id: string, overrides: ServerOverrides = {}): MutableServerView {
  const { scripts, ...rest } = overrides;
  return {
    server_id,
    status: 'active',
    location: null,
    max_accounts: 10,
    healthy: true,
    cpu_percent: 0,
    memory_percent: 0,
    disk_percent: 0,
    accounts: 0,
    account_list_bytes: 0,
    down_recently: false,
    ...rest,
    scripts: scripts instanceof Map ? new Map(scripts) : new Map(Object.entries(scripts ?? {})),
  };
}

/** A `load_balance` request for account `a1`, no script, nothing excluded, no explanation. */
export function placementRequest(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    account_id: 'a1',
    script_id: null,
    strategy: 'load_balance',
    location: null,
    strict: false,
    exclude: null,
    explain: false,
    ...overrides,
  };
}

/** Simulates placing an account on `server`: its count, and its script's count, go up by one. */
export function addAccount(server: MutableServerView, scriptId: string | null): void {
  server.accounts += 1;
  if (scriptId !== null) server.scripts.set(scriptId, (server.scripts.get(scriptId) ?? 0) + 1);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link generateFleet}. */
export interface FleetOptions {
  /** Number of servers. */
  servers: number;
  /** @defaultValue 1 */
  seed?: number;
  /** @defaultValue `['LosAngeles', 'Tokyo', 'Frankfurt', 'Singapore']` */
  locations?: readonly string[];
  /** Script ids spread over the fleet. @defaultValue 20 scripts `script-0`… */
  scripts?: readonly string[];
  /** @defaultValue 200 */
  maxAccounts?: number;
  /** Share of servers that are not active, not healthy, full or down recently. @defaultValue 0.1 each */
  inactiveShare?: number;
}

/** Server ids of a generated fleet: `srv-00001`, `srv-00002`, …. */
export function fleetServerId(i: number): string {
  return `srv-${String(i + 1).padStart(5, '0')}`;
}

/** A reproducible fleet of live-looking servers with random load and script counts. */
export function generateFleet(options: FleetOptions): MutableServerView[] {
  const random = seededRandom(options.seed ?? 1);
  const locations = options.locations ?? ['LosAngeles', 'Tokyo', 'Frankfurt', 'Singapore'];
  const scripts = options.scripts ?? Array.from({ length: 20 }, (_, i) => `script-${i}`);
  const maxAccounts = options.maxAccounts ?? 200;
  const odd = options.inactiveShare ?? 0.1;
  const fleet: MutableServerView[] = [];
  for (let i = 0; i < options.servers; i++) {
    const accounts = Math.floor(random() * maxAccounts * 0.9);
    const counts = new Map<string, number>();
    for (let left = accounts; left > 0; ) {
      const n = Math.min(left, 1 + Math.floor(random() * 10));
      const s = scripts[Math.floor(random() * scripts.length)]!;
      counts.set(s, (counts.get(s) ?? 0) + n);
      left -= n;
    }
    fleet.push(
      serverView(fleetServerId(i), {
        status: random() < odd ? (random() < 0.5 ? 'draining' : 'disabled') : 'active',
        healthy: random() >= odd,
        location: locations[Math.floor(random() * locations.length)]!,
        max_accounts: maxAccounts,
        accounts: random() < odd ? maxAccounts : accounts,
        cpu_percent: Math.round(random() * 1000) / 10,
        memory_percent: Math.round(random() * 1000) / 10,
        disk_percent: Math.round(random() * 1000) / 10,
        down_recently: random() < odd,
        scripts: counts,
      }),
    );
  }
  return fleet;
}
