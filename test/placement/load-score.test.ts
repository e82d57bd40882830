import { expect } from 'chai';
import { isBerthError } from '../../shared/errors.js';
import { place, rankServers } from '../../controller/placement/pipeline.js';
import { loadScore, normaliseWeights, roundScore, scoreBreakdown } from '../../controller/placement/scorers/load-score.js';
import type { Weights } from '../../controller/placement/types.js';
import { placementRequest, serverView, type ServerOverrides } from '../helpers/placement-builders.js';

describe('load score', () => {
  const cases: { name: string; server: ServerOverrides; weights: Weights; want: { cpu: number; memory: number; accounts: number; disk: number; total: number } }[] = [
    {
      // 0.3·50 + 0.3·40 + 0.3·(2/10·100) + 0.1·30 = 15 + 12 + 6 + 3
      name: 'default weights',
      server: { cpu_percent: 50, memory_percent: 40, accounts: 2, max_accounts: 10, disk_percent: 30 },
      weights: { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 },
      want: { cpu: 15, memory: 12, accounts: 6, disk: 3, total: 36 },
    },
    {
      // 3/3/3/1 normalises to the defaults
      name: 'weights not summing to 1 are normalised',
      server: { cpu_percent: 50, memory_percent: 40, accounts: 2, max_accounts: 10, disk_percent: 30 },
      weights: { cpu: 3, memory: 3, accounts: 3, disk: 1 },
      want: { cpu: 15, memory: 12, accounts: 6, disk: 3, total: 36 },
    },
    {
      // 1/1/1/1 → 0.25 each: 0.25·80 + 0.25·20 + 0.25·(3/5·100) + 0.25·10 = 20 + 5 + 15 + 2.5
      name: 'equal weights',
      server: { cpu_percent: 80, memory_percent: 20, accounts: 3, max_accounts: 5, disk_percent: 10 },
      weights: { cpu: 1, memory: 1, accounts: 1, disk: 1 },
      want: { cpu: 20, memory: 5, accounts: 15, disk: 2.5, total: 42.5 },
    },
    {
      name: 'only accounts count',
      server: { cpu_percent: 99, memory_percent: 99, accounts: 1, max_accounts: 3, disk_percent: 99 },
      weights: { cpu: 0, memory: 0, accounts: 2, disk: 0 },
      want: { cpu: 0, memory: 0, accounts: 33.33, disk: 0, total: 33.33 },
    },
    {
      name: 'out-of-range figures are clamped to 0–100',
      server: { cpu_percent: 150, memory_percent: -5, accounts: 12, max_accounts: 10, disk_percent: Number.NaN },
      weights: { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 },
      want: { cpu: 30, memory: 0, accounts: 30, disk: 0, total: 60 },
    },
    {
      name: 'a server with no capacity counts as full',
      server: { accounts: 0, max_accounts: 0 },
      weights: { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 },
      want: { cpu: 0, memory: 0, accounts: 30, disk: 0, total: 30 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [candidate] = rankServers([serverView('s1', c.server)], placementRequest(), c.weights);
      expect(candidate!.breakdown).to.deep.equal(c.want);
      expect(candidate!.load_score).to.equal(c.want.total);
    });
  }

  it('normalises weights to sum 1', () => {
    const w = normaliseWeights({ cpu: 2, memory: 2, accounts: 4, disk: 0 });
    expect(w).to.deep.equal({ cpu: 0.25, memory: 0.25, accounts: 0.5, disk: 0 });
  });

  it('refuses negative, non-finite or all-zero weights', () => {
    for (const bad of [
      { cpu: -1, memory: 1, accounts: 1, disk: 1 },
      { cpu: Number.NaN, memory: 1, accounts: 1, disk: 1 },
      { cpu: 0, memory: 0, accounts: 0, disk: 0 },
    ]) {
      expect(() => normaliseWeights(bad)).to.throw().that.satisfies((e: unknown) => isBerthError(e, 'INVALID_REQUEST'));
    }
  });

  it('the breakdown total is the exact score, and display rounds to 2 decimals', () => {
    const server = serverView('s1', { cpu_percent: 33.333, memory_percent: 66.667, accounts: 1, max_accounts: 3, disk_percent: 12.345 });
    const w = normaliseWeights({ cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 });
    expect(scoreBreakdown(server, w).total).to.equal(loadScore(server, w));
    const placed = place([server], placementRequest(), w);
    expect(placed.ok && placed.value.load_score).to.equal(roundScore(loadScore(server, w)));
    // 0.3·33.333 + 0.3·66.667 + 0.3·(1/3·100) + 0.1·12.345 = 9.9999 + 20.0001 + 10 + 1.2345 = 41.2345 → shown 41.23
    expect(placed.ok && placed.value.load_score).to.equal(41.23);
  });

  it('compares exact scores, not rounded ones', () => {
    // with cpu as the only weight, 10.004 and 10.001 both show as 10.00, yet b is lower
    const w = { cpu: 1, memory: 0, accounts: 0, disk: 0 };
    const servers = [serverView('a', { cpu_percent: 10.004 }), serverView('b', { cpu_percent: 10.001 })];
    const placed = place(servers, placementRequest(), w);
    expect(placed.ok && placed.value.server_id).to.equal('b');
    expect(placed.ok && placed.value.load_score).to.equal(10);
  });
});
