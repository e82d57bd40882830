import { expect } from 'chai';
import { place, rankServers } from '../../controller/placement/pipeline.js';
import type { Weights } from '../../controller/placement/types.js';
import { generateFleet, placementRequest, serverView } from '../helpers/placement-builders.js';

const W: Weights = { cpu: 1, memory: 1, accounts: 2, disk: 0 };

const fleet = () => [
  serverView('d', { cpu_percent: 40 }), // 10
  serverView('a', { cpu_percent: 20, memory_percent: 20 }), // 10 (ties with d, a first)
  serverView('c', { status: 'draining', cpu_percent: 0 }), // 0, not eligible
  serverView('b', { accounts: 10, cpu_percent: 4 }), // 1 + 50, full
  serverView('e', { memory_percent: 12 }), // 3
];

describe('placement pipeline', () => {
  it('explain lists every server: eligible first by score, then the rest with reasons and breakdowns', () => {
    const result = place(fleet(), placementRequest({ explain: true }), W);
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.value.server_id).to.equal('e');
    const rows = result.value.candidates!.map((c) => [c.server_id, c.eligible, c.load_score, c.reasons]);
    expect(rows).to.deep.equal([
      ['e', true, 3, []],
      ['a', true, 10, []],
      ['d', true, 10, []],
      ['c', false, 0, ['status is draining']],
      ['b', false, 51, ['full: 10/10 accounts']],
    ]);
    expect(result.value.candidates![4]!.breakdown).to.deep.equal({ cpu: 1, memory: 0, accounts: 50, disk: 0, total: 51 });
  });

  it('without explain a decision carries no candidates', () => {
    const result = place(fleet(), placementRequest(), W);
    expect(result.ok && result.value.candidates).to.equal(undefined);
  });

  it('no eligible server: a value with the code and every server\'s reasons', () => {
    const servers = [
      serverView('a', { healthy: false }),
      serverView('b', { disk_percent: 96.1 }),
      serverView('c', { status: 'disabled', accounts: 5, max_accounts: 5 }),
    ];
    const result = place(servers, placementRequest(), W);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.error.code).to.equal('NO_ELIGIBLE_SERVER');
    expect(result.error.message).to.equal('no eligible server among 3');
    expect(Object.fromEntries(result.error.candidates.map((c) => [c.server_id, c.reasons]))).to.deep.equal({
      a: ['agent not reporting'],
      b: ['disk 96.1% ≥ 95%'],
      c: ['status is disabled', 'full: 5/5 accounts'],
    });
    expect(result.error.candidates.every((c) => !c.eligible)).to.equal(true);
  });

  it('the same state gives the same answer, whatever the order of the servers', () => {
    const servers = generateFleet({ servers: 300, seed: 5 });
    for (const strategy of ['load_balance', 'location', 'affinity', 'isolation'] as const) {
      const request = placementRequest({ strategy, script_id: 'script-4', location: 'Tokyo' });
      const first = place(servers, request, W);
      const reversed = place([...servers].reverse(), request, W);
      expect(first.ok, strategy).to.equal(true);
      expect(reversed, strategy).to.deep.equal(first);
    }
  });

  it('the chosen server is eligible and no eligible server scores lower (load_balance, generated fleet)', () => {
    const servers = generateFleet({ servers: 400, seed: 9 });
    const result = place(servers, placementRequest({ explain: true }), W);
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    const candidates = result.value.candidates!;
    expect(candidates).to.have.length(400);
    expect(candidates[0]!.server_id).to.equal(result.value.server_id);
    const eligible = candidates.filter((c) => c.eligible);
    expect(eligible.length).to.be.greaterThan(100);
    for (const c of eligible) expect(c.load_score).to.be.at.least(result.value.load_score);
    for (const c of candidates.filter((x) => !x.eligible)) expect(c.reasons).to.not.be.empty;
  });

  it('an unknown strategy is an INVALID_REQUEST error', () => {
    expect(() => place(fleet(), placementRequest({ strategy: 'nearest' as never }), W)).to.throw(/unknown strategy nearest/);
  });
});

describe('rankings', () => {
  it('every server, eligible first by score, ties by id', () => {
    const rows = rankServers(fleet(), {}, W).map((c) => [c.server_id, c.eligible, c.load_score]);
    expect(rows).to.deep.equal([
      ['e', true, 3],
      ['a', true, 10],
      ['d', true, 10],
      ['c', false, 0],
      ['b', false, 51],
    ]);
  });

  it('a location query marks other locations ineligible while the location has an eligible server', () => {
    const servers = [
      serverView('la', { location: 'LosAngeles', cpu_percent: 40 }),
      serverView('tk', { location: 'Tokyo' }),
    ];
    const rows = rankServers(servers, { strategy: 'location', location: 'LosAngeles' }, W).map((c) => [c.server_id, c.eligible, c.reasons]);
    expect(rows).to.deep.equal([
      ['la', true, []],
      ['tk', false, ['location Tokyo ≠ LosAngeles']],
    ]);
    // With nothing eligible there, placement would fall back, and the rankings say the same.
    const fallback = rankServers(servers, { strategy: 'location', location: 'Mars' }, W).map((c) => [c.server_id, c.eligible]);
    expect(fallback).to.deep.equal([
      ['tk', true],
      ['la', true],
    ]);
    const strict = rankServers(servers, { strategy: 'location', location: 'Mars', strict: true }, W).map((c) => c.eligible);
    expect(strict).to.deep.equal([false, false]);
  });

  it('an empty fleet ranks nothing', () => {
    expect(rankServers([], { strategy: 'isolation', script_id: 'X' }, W)).to.deep.equal([]);
  });
});
