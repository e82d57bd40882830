import { expect } from 'chai';
import { place } from '../../controller/placement/pipeline.js';
import type { PlacementRequest, Weights } from '../../controller/placement/types.js';
import { addAccount, placementRequest, serverView, type MutableServerView } from '../helpers/placement-builders.js';

/** Binary-exact weights (0.25 / 0.25 / 0.5 / 0) so hand-computed scores and ties are exact. */
const W: Weights = { cpu: 1, memory: 1, accounts: 2, disk: 0 };

interface Case {
  name: string;
  servers: MutableServerView[];
  request: Partial<PlacementRequest>;
  want: { server_id: string; load_score: number; reason: string } | { error: string };
}

function check(c: Case): void {
  it(c.name, () => {
    const result = place(c.servers, placementRequest(c.request), W);
    if ('error' in c.want) {
      expect(result.ok, JSON.stringify(result)).to.equal(false);
      if (!result.ok) {
        expect(result.error.code).to.equal('NO_ELIGIBLE_SERVER');
        expect(result.error.message).to.equal(c.want.error);
        expect(result.error.candidates).to.have.length(c.servers.length);
      }
      return;
    }
    expect(result.ok, JSON.stringify(result)).to.equal(true);
    if (result.ok) {
      expect({ server_id: result.value.server_id, load_score: result.value.load_score, reason: result.value.reason }).to.deep.equal(c.want);
      expect(result.value.strategy).to.equal(c.request.strategy ?? 'load_balance');
      expect(result.value.candidates).to.equal(undefined);
    }
  });
}

// cpu 40 → 10 points; each account on a 10-slot server → 5 points: a 10, b 5 + 10, c 20.
const lb = () => [
  serverView('a', { cpu_percent: 40 }),
  serverView('b', { cpu_percent: 20, accounts: 2 }),
  serverView('c', { cpu_percent: 0, accounts: 4 }),
  serverView('d', { cpu_percent: 0, status: 'draining' }),
];

describe('strategy load_balance', () => {
  for (const c of [
    { name: 'lowest score wins', servers: lb(), request: {}, want: { server_id: 'a', load_score: 10, reason: 'lowest load score 10.00 among 3 eligible servers' } },
    {
      name: 'ties break by server id whatever the input order',
      servers: [serverView('srv-b', { cpu_percent: 8 }), serverView('srv-c', { memory_percent: 8 }), serverView('srv-a', { cpu_percent: 8 })],
      request: {},
      want: { server_id: 'srv-a', load_score: 2, reason: 'lowest load score 2.00 among 3 eligible servers' },
    },
    {
      name: 'excluded servers are skipped',
      servers: lb(),
      request: { exclude: new Set(['a']) },
      want: { server_id: 'b', load_score: 15, reason: 'lowest load score 15.00 among 2 eligible servers' },
    },
    { name: 'nothing eligible', servers: [serverView('a', { healthy: false })], request: {}, want: { error: 'no eligible server among 1' } },
    { name: 'no servers at all', servers: [], request: {}, want: { error: 'no eligible server among 0' } },
  ] satisfies Case[]) check(c);

  it('a burst spreads: in-flight accounts count, exact sequence', () => {
    // a: cpu 24 → 6, 10 slots (+5 per account); b: 5 slots (+10); c: 20 slots (+2.5)
    const servers = [
      serverView('a', { cpu_percent: 24, max_accounts: 10 }),
      serverView('b', { max_accounts: 5 }),
      serverView('c', { max_accounts: 20 }),
    ];
    const sequence: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < 10; i++) {
      const result = place(servers, placementRequest({ account_id: `acc-${i}` }), W);
      if (!result.ok) throw new Error(result.error.message);
      sequence.push(result.value.server_id);
      scores.push(result.value.load_score);
      addAccount(servers.find((s) => s.server_id === result.value.server_id)!, null);
    }
    expect(sequence).to.deep.equal(['b', 'c', 'c', 'c', 'a', 'c', 'b', 'c', 'a', 'c']);
    expect(scores).to.deep.equal([0, 0, 2.5, 5, 6, 7.5, 10, 10, 11, 12.5]);
  });

  it('a burst fills every slot and then reports no eligible server', () => {
    const servers = [serverView('a', { max_accounts: 2 }), serverView('b', { max_accounts: 2 })];
    const sequence: string[] = [];
    for (;;) {
      const result = place(servers, placementRequest(), W);
      if (!result.ok) {
        expect(result.error.candidates.map((c) => c.reasons)).to.deep.equal([['full: 2/2 accounts'], ['full: 2/2 accounts']]);
        break;
      }
      sequence.push(result.value.server_id);
      addAccount(servers.find((s) => s.server_id === result.value.server_id)!, null);
    }
    expect(sequence).to.deep.equal(['a', 'b', 'a', 'b']);
  });
});

const geo = () => [
  serverView('la-1', { location: 'LosAngeles', cpu_percent: 40 }),
  serverView('la-2', { location: 'LosAngeles', cpu_percent: 80 }),
  serverView('tk-1', { location: 'Tokyo', cpu_percent: 0 }),
  serverView('tk-2', { location: 'Tokyo', cpu_percent: 20 }),
];

describe('strategy location', () => {
  for (const c of [
    {
      name: 'lowest score within the location',
      servers: geo(),
      request: { strategy: 'location', location: 'LosAngeles' },
      want: { server_id: 'la-1', load_score: 10, reason: 'lowest load score 10.00 among 2 eligible servers in LosAngeles' },
    },
    {
      name: 'none eligible there: falls back to load_balance and says so',
      servers: geo().map((s) => (s.location === 'LosAngeles' ? { ...s, status: 'draining' as const } : s)),
      request: { strategy: 'location', location: 'LosAngeles' },
      want: {
        server_id: 'tk-1',
        load_score: 0,
        reason: 'no eligible server in LosAngeles; fell back to load_balance: lowest load score 0.00 among 2 eligible servers',
      },
    },
    {
      name: 'unknown location falls back too',
      servers: geo(),
      request: { strategy: 'location', location: 'Mars' },
      want: { server_id: 'tk-1', load_score: 0, reason: 'no eligible server in Mars; fell back to load_balance: lowest load score 0.00 among 4 eligible servers' },
    },
    {
      name: 'strict refuses instead of falling back',
      servers: geo().map((s) => (s.location === 'LosAngeles' ? { ...s, healthy: false } : s)),
      request: { strategy: 'location', location: 'LosAngeles', strict: true },
      want: { error: 'no eligible server in LosAngeles (strict)' },
    },
    {
      name: 'no location given acts as load_balance',
      servers: geo(),
      request: { strategy: 'location' },
      want: { server_id: 'tk-1', load_score: 0, reason: 'no location given; lowest load score 0.00 among 4 eligible servers' },
    },
  ] satisfies Case[]) check(c);

  it('strict refusal explains every server, location mismatches included', () => {
    const servers = geo().map((s) => (s.server_id === 'la-1' ? { ...s, healthy: false } : s.server_id === 'la-2' ? { ...s, accounts: 10 } : s));
    const result = place(servers, placementRequest({ strategy: 'location', location: 'LosAngeles', strict: true }), W);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    const reasons = Object.fromEntries(result.error.candidates.map((c) => [c.server_id, c.reasons]));
    expect(reasons).to.deep.equal({
      'la-1': ['agent not reporting'],
      'la-2': ['full: 10/10 accounts'],
      'tk-1': ['location Tokyo ≠ LosAngeles'],
      'tk-2': ['location Tokyo ≠ LosAngeles'],
    });
  });

  it('a fallback decision explains without location reasons', () => {
    const servers = geo().map((s) => (s.location === 'LosAngeles' ? { ...s, status: 'disabled' as const } : s));
    const result = place(servers, placementRequest({ strategy: 'location', location: 'LosAngeles', explain: true }), W);
    expect(result.ok && result.value.candidates!.map((c) => [c.server_id, c.eligible, c.reasons])).to.deep.equal([
      ['tk-1', true, []],
      ['tk-2', true, []],
      ['la-1', false, ['status is disabled']],
      ['la-2', false, ['status is disabled']],
    ]);
  });
});

const scripted = () => [
  serverView('a', { cpu_percent: 80, scripts: { X: 1 }, accounts: 1 }), // 20 + 5 = 25
  serverView('b', { cpu_percent: 0 }), // 0
  serverView('c', { cpu_percent: 40, scripts: { X: 2, Y: 1 }, accounts: 3 }), // 10 + 15 = 25
  serverView('d', { cpu_percent: 0, scripts: { X: 4 }, accounts: 4, status: 'draining' }),
];

describe('strategy affinity', () => {
  for (const c of [
    {
      name: 'lowest score among servers already running the script (tie by id)',
      servers: scripted(),
      request: { strategy: 'affinity', script_id: 'X' },
      want: { server_id: 'a', load_score: 25, reason: 'lowest load score 25.00 among 2 eligible servers already running script X' },
    },
    {
      name: 'a single host is chosen even when others are lighter',
      servers: scripted(),
      request: { strategy: 'affinity', script_id: 'Y' },
      want: { server_id: 'c', load_score: 25, reason: 'lowest load score 25.00 among 1 eligible server already running script Y' },
    },
    {
      name: 'no server runs it: load_balance, saying so',
      servers: scripted(),
      request: { strategy: 'affinity', script_id: 'Z' },
      want: { server_id: 'b', load_score: 0, reason: 'no eligible server runs script Z yet; fell back to load_balance: lowest load score 0.00 among 3 eligible servers' },
    },
    {
      name: 'hosts that are not eligible do not count',
      servers: scripted().map((s) => (s.server_id === 'a' || s.server_id === 'c' ? { ...s, disk_percent: 97 } : s)),
      request: { strategy: 'affinity', script_id: 'X' },
      want: { server_id: 'b', load_score: 0, reason: 'no eligible server runs script X yet; fell back to load_balance: lowest load score 0.00 among 1 eligible server' },
    },
    {
      name: 'no script_id acts as load_balance',
      servers: scripted(),
      request: { strategy: 'affinity' },
      want: { server_id: 'b', load_score: 0, reason: 'no script_id given; lowest load score 0.00 among 3 eligible servers' },
    },
  ] satisfies Case[]) check(c);
});

// Two locations; e is full but its 5 X accounts still count for Tokyo.
const spread = () => [
  serverView('a', { location: 'LosAngeles', scripts: { X: 2 }, accounts: 2 }),
  serverView('b', { location: 'LosAngeles', cpu_percent: 60 }),
  serverView('c', { location: 'Tokyo', cpu_percent: 20 }),
  serverView('d', { location: 'Tokyo', cpu_percent: 8 }),
  serverView('e', { location: 'Tokyo', scripts: { X: 5 }, accounts: 10 }),
];

describe('strategy isolation', () => {
  for (const c of [
    {
      name: 'fewest of the script on the server, then in the location, before load',
      servers: spread(),
      request: { strategy: 'isolation', script_id: 'X' },
      want: { server_id: 'b', load_score: 15, reason: 'fewest accounts of script X: 0 on the server, 2 in LosAngeles; load score 15.00 among 4 eligible servers' },
    },
    {
      name: 'servers down in the last hour are avoided while another is eligible',
      servers: spread().map((s) => (s.server_id === 'b' ? { ...s, down_recently: true } : s)),
      request: { strategy: 'isolation', script_id: 'X' },
      want: { server_id: 'd', load_score: 2, reason: 'fewest accounts of script X: 0 on the server, 5 in Tokyo; load score 2.00 among 4 eligible servers; avoided 1 that went down in the last hour' },
    },
    {
      name: 'down-recently servers are still used when nothing else is eligible',
      servers: spread().map((s) => ({ ...s, down_recently: true })),
      request: { strategy: 'isolation', script_id: 'X' },
      want: { server_id: 'b', load_score: 15, reason: 'fewest accounts of script X: 0 on the server, 2 in LosAngeles; load score 15.00 among 4 eligible servers; every eligible server went down in the last hour' },
    },
    {
      name: 'a server with the script loses to one without, whatever the load',
      servers: [serverView('a', { scripts: { X: 1 }, accounts: 1 }), serverView('b', { cpu_percent: 100, memory_percent: 100 })],
      request: { strategy: 'isolation', script_id: 'X' },
      want: { server_id: 'b', load_score: 50, reason: 'fewest accounts of script X: 0 on the server, 0 in its location; load score 50.00 among 2 eligible servers' },
    },
    {
      name: 'full ties break by server id',
      servers: [serverView('z', { location: 'L' }), serverView('m', { location: 'L' }), serverView('q', { location: 'K' })],
      request: { strategy: 'isolation', script_id: 'X' },
      want: { server_id: 'm', load_score: 0, reason: 'fewest accounts of script X: 0 on the server, 0 in L; load score 0.00 among 3 eligible servers' },
    },
    {
      name: 'no script_id: lowest score, still avoiding down-recently servers',
      servers: spread().map((s) => (s.server_id === 'a' ? { ...s, down_recently: true } : s)),
      request: { strategy: 'isolation' },
      want: { server_id: 'd', load_score: 2, reason: 'no script_id given; lowest load score 2.00 among 4 eligible servers; avoided 1 that went down in the last hour' },
    },
  ] satisfies Case[]) check(c);

  it('a burst of one script alternates locations, then servers', () => {
    const servers = [
      serverView('la-1', { location: 'LosAngeles' }),
      serverView('la-2', { location: 'LosAngeles' }),
      serverView('tk-1', { location: 'Tokyo' }),
      serverView('tk-2', { location: 'Tokyo' }),
    ];
    const sequence: string[] = [];
    for (let i = 0; i < 8; i++) {
      const result = place(servers, placementRequest({ strategy: 'isolation', script_id: 'X' }), W);
      if (!result.ok) throw new Error(result.error.message);
      sequence.push(result.value.server_id);
      addAccount(servers.find((s) => s.server_id === result.value.server_id)!, 'X');
    }
    expect(sequence).to.deep.equal(['la-1', 'tk-1', 'la-2', 'tk-2', 'la-1', 'tk-1', 'la-2', 'tk-2']);
  });

  it('other scripts do not count, but their accounts weigh on the load score', () => {
    const servers = [serverView('a', { scripts: { Y: 4 }, accounts: 4 }), serverView('b', { scripts: { Y: 1 }, accounts: 1 })];
    const result = place(servers, placementRequest({ strategy: 'isolation', script_id: 'X' }), W);
    expect(result.ok && [result.value.server_id, result.value.load_score]).to.deep.equal(['b', 5]);
  });
});
