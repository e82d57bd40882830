import { expect } from 'chai';
import { planRebalance, type RebalanceAccount, type RebalanceOptions, type RebalanceServer } from '../../controller/placement/rebalance-plan.js';
import { ROOM_FOR_ANY_ID } from '../../controller/placement/filters/capacity.js';
import type { Weights } from '../../controller/placement/types.js';
import { accountListBytes } from '../../shared/protocol.js';
import { generateFleet, serverView, type ServerOverrides } from '../helpers/placement-builders.js';

/** 0.25 cpu, 0.25 memory, 0.5 accounts: hand-checked figures stay exact. */
const W: Weights = { cpu: 1, memory: 1, accounts: 2, disk: 0 };
const NOW = 1_700_000_000_000;

function host(id: string, overrides: ServerOverrides, accountIds: string[] = [], moved: Record<string, number> = {}): RebalanceServer {
  const accounts: RebalanceAccount[] = accountIds.map((account_id) => ({ account_id, script_id: 'S', last_moved_at: moved[account_id] ?? null }));
  // The list's JSON bytes as the fleet keeps them, unless the case says otherwise.
  const listBytes = accountIds.reduce((n, a) => n + accountListBytes(a), 0);
  return { server: serverView(id, { accounts: accountIds.length, account_list_bytes: listBytes, ...overrides }), accounts };
}

function options(overrides: Partial<RebalanceOptions> = {}): RebalanceOptions {
  return { threshold: 30, max_migrations: 10, cooldown_ms: 1_800_000, now: NOW, ...overrides };
}

// A: cpu 80, mem 80, 4/10 accounts → 20 + 20 + 20 = 60. B: empty → 0.
const pair = (moved: Record<string, number> = {}) => [
  host('A', { cpu_percent: 80, memory_percent: 80 }, ['a4', 'a2', 'a1', 'a3'], moved),
  host('B', {}),
];

describe('rebalance planner', () => {
  const cases: { name: string; servers: RebalanceServer[]; options: Partial<RebalanceOptions>; want: ReturnType<typeof planRebalance> }[] = [
    {
      // a1 takes 80/4 = 20 cpu and memory: A 60,60,3 → 15+15+15 = 45; B 20,20,1 → 5+5+5 = 15; spread 30 ≤ 30
      name: 'one move brings the spread to the threshold, then it stops',
      servers: pair(),
      options: {},
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 45, min_score: 15, spread: 30 },
        moves: [{ account_id: 'a1', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 15 }],
      },
    },
    {
      // then a2 takes 60/3 = 20: A 40,40,2 → 10 + 10 + 10 = 30; B 40,40,2 → 10 + 10 + 10 = 30; spread 0
      name: 'a lower threshold takes a second move',
      servers: pair(),
      options: { threshold: 10 },
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 30, min_score: 30, spread: 0 },
        moves: [
          { account_id: 'a1', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 15 },
          { account_id: 'a2', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 30, predicted_to_score: 30 },
        ],
      },
    },
    {
      name: 'max_migrations caps the plan',
      servers: pair(),
      options: { threshold: 0, max_migrations: 1 },
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 45, min_score: 15, spread: 30 },
        moves: [{ account_id: 'a1', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 15 }],
      },
    },
    {
      name: 'an account moved within the cooldown stays; one moved before it may go',
      servers: pair({ a1: NOW - 60_000, a2: NOW - 1_800_000 }),
      options: {},
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 45, min_score: 15, spread: 30 },
        moves: [{ account_id: 'a2', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 15 }],
      },
    },
    {
      name: 'a spread under the threshold plans nothing',
      servers: [host('A', { cpu_percent: 40 }, ['a1']), host('B', { cpu_percent: 0 })],
      options: {},
      // A: 10 + 5 = 15, B: 0
      want: { before: { max_score: 15, min_score: 0, spread: 15 }, after: { max_score: 15, min_score: 0, spread: 15 }, moves: [] },
    },
    {
      // A: 1 account, 100/100 → 25+25+5 = 55. B: 1 account → 5; taking A's account: 25+25+10 = 60 > 55
      name: 'never makes the target worse than the source was',
      servers: [host('A', { cpu_percent: 100, memory_percent: 100 }, ['a1']), host('B', {}, ['b1'])],
      options: {},
      want: { before: { max_score: 55, min_score: 5, spread: 50 }, after: { max_score: 55, min_score: 5, spread: 50 }, moves: [] },
    },
    {
      // C is full (2/2 → 50); D (0) has disk 96 %; E is draining and F unhealthy: both outside the set.
      name: 'only servers that may take accounts are targets; only active healthy ones make the spread',
      servers: [
        host('A', { cpu_percent: 80, memory_percent: 80 }, ['a1', 'a2', 'a3', 'a4']),
        host('B', { cpu_percent: 20, memory_percent: 20 }, ['b1', 'b2']),
        host('C', { max_accounts: 2 }, ['c1', 'c2']),
        host('D', { disk_percent: 96 }),
        host('E', { status: 'draining', cpu_percent: 100, memory_percent: 100 }, ['e1']),
        host('F', { healthy: false }),
      ],
      options: { threshold: 20 },
      // before: max A 60, min D 0. a1 → B (score 20 < C 50; D cannot take): A 45; B 40,40,3 → 10+10+15 = 35.
      // spread 45 - 0 (D) > 20, next: a2 from A (45) → B (35)? share 60/3 = 20: B 60,60,4 → 15+15+20 = 50 > 45: skipped,
      // A is set aside; next source C (50): c1 → B: share 0, B 40,40,4 → 10+10+20 = 40 ≤ 50; C 0,0,1 → 25.
      // next source B (40): its own b1 → C? C (25) is lowest that can take: share 40/4 = 10: C 10,10,2 → 5+5+50 = 60 > 40: set aside.
      // next source C (25) is also the lowest target: set aside; nothing left.
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 45, min_score: 0, spread: 45 },
        moves: [
          { account_id: 'a1', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 35 },
          { account_id: 'c1', from_server_id: 'C', to_server_id: 'B', predicted_from_score: 25, predicted_to_score: 40 },
        ],
      },
    },
    {
      name: 'identical sources and targets tie by server id',
      servers: [
        host('S2', { cpu_percent: 80, memory_percent: 80 }, ['x1', 'x2', 'x3', 'x4']),
        host('S1', { cpu_percent: 80, memory_percent: 80 }, ['y1', 'y2', 'y3', 'y4']),
        host('T2', {}),
        host('T1', {}),
      ],
      options: { max_migrations: 1 },
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 60, min_score: 0, spread: 60 },
        moves: [{ account_id: 'y1', from_server_id: 'S1', to_server_id: 'T1', predicted_from_score: 45, predicted_to_score: 15 }],
      },
    },
    {
      // B's account list is one short id from the agent protocol's frame (SPEC §6), as
      // placement counts it: C, scored higher, takes the account instead.
      name: 'a target whose account list is near the frame limit is passed over',
      servers: [
        host('A', { cpu_percent: 80, memory_percent: 80 }, ['a4', 'a2', 'a1', 'a3']),
        host('B', { account_list_bytes: ROOM_FOR_ANY_ID + 1 }),
        host('C', { cpu_percent: 8, memory_percent: 8 }),
      ],
      options: { max_migrations: 1 },
      // C 28,28,1 → 7 + 7 + 5 = 19
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 45, min_score: 0, spread: 45 },
        moves: [{ account_id: 'a1', from_server_id: 'A', to_server_id: 'C', predicted_from_score: 45, predicted_to_score: 19 }],
      },
    },
    {
      // B has room for any id, once: it takes a1 (5 bytes), and then, though still the
      // lowest score (15 against C's 20), is passed over for a2.
      name: 'a target whose list fills up while planning takes no more',
      servers: [
        host('A', { cpu_percent: 80, memory_percent: 80 }, ['a4', 'a2', 'a1', 'a3']),
        host('B', { account_list_bytes: ROOM_FOR_ANY_ID - 3 }),
        host('C', { cpu_percent: 40, memory_percent: 40 }),
      ],
      options: { threshold: 0, max_migrations: 2 },
      // a1 → B: 20,20,1 → 15; A 60,60,3 → 45. a2 → C: 60,60,1 → 15 + 15 + 5 = 35; A 40,40,2 → 30.
      want: {
        before: { max_score: 60, min_score: 0, spread: 60 },
        after: { max_score: 35, min_score: 15, spread: 20 },
        moves: [
          { account_id: 'a1', from_server_id: 'A', to_server_id: 'B', predicted_from_score: 45, predicted_to_score: 15 },
          { account_id: 'a2', from_server_id: 'A', to_server_id: 'C', predicted_from_score: 30, predicted_to_score: 35 },
        ],
      },
    },
    {
      name: 'an empty fleet plans nothing',
      servers: [],
      options: {},
      want: { before: { max_score: 0, min_score: 0, spread: 0 }, after: { max_score: 0, min_score: 0, spread: 0 }, moves: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(planRebalance(c.servers, W, options(c.options))).to.deep.equal(c.want);
    });
  }

  it('on a large generated fleet: each account moves once, within the limits, and the spread never grows', () => {
    const fleet = generateFleet({ servers: 200, seed: 21, maxAccounts: 50, inactiveShare: 0.05 });
    let next = 0;
    const input: RebalanceServer[] = fleet.map((server) => ({
      server,
      accounts: Array.from({ length: server.accounts }, (_, k) => ({
        account_id: `acc-${String(next++).padStart(6, '0')}`,
        script_id: null,
        last_moved_at: k % 3 === 0 ? NOW - 1000 : null,
      })),
    }));
    const cooled = new Set(input.flatMap((s) => s.accounts.filter((a) => a.last_moved_at !== null).map((a) => a.account_id)));
    const plan = planRebalance(input, { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 }, options({ threshold: 5, max_migrations: 400 }));
    expect(plan.moves.length).to.be.greaterThan(20).and.at.most(400);
    const ids = plan.moves.map((m) => m.account_id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const id of ids) expect(cooled.has(id), id).to.equal(false);
    expect(plan.after.spread).to.be.lessThan(plan.before.spread);
    const byId = new Map(fleet.map((s) => [s.server_id, s]));
    for (const m of plan.moves) {
      const to = byId.get(m.to_server_id)!;
      expect(to.status === 'active' && to.healthy && to.disk_percent < 95, m.to_server_id).to.equal(true);
      expect(m.from_server_id).to.not.equal(m.to_server_id);
    }
    // The same input gives the same plan.
    expect(planRebalance(input, { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 }, options({ threshold: 5, max_migrations: 400 }))).to.deep.equal(plan);
  });
});
