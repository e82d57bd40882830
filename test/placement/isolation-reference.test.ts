import { expect } from 'chai';
import { place } from '../../controller/placement/pipeline.js';
import { DEFAULT_FILTERS } from '../../controller/placement/registry.js';
import { loadScore, normaliseWeights } from '../../controller/placement/scorers/load-score.js';
import { LocationBuckets } from '../../controller/placement/strategies/isolation.js';
import type { PlacementRequest, ServerView, Weights } from '../../controller/placement/types.js';
import { addAccount, generateFleet, placementRequest } from '../helpers/placement-builders.js';

const W: Weights = { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 };

/** The isolation rule written the slow, obvious way: sort every eligible server by its keys. */
function referenceIsolation(servers: readonly ServerView[], request: PlacementRequest): string | null {
  const w = normaliseWeights(W);
  const script = request.script_id!;
  const sameOf = (s: ServerView) => s.scripts.get(script) ?? 0;
  const inLocation = (s: ServerView) =>
    s.location === null ? sameOf(s) : servers.filter((o) => o.location === s.location).reduce((n, o) => n + sameOf(o), 0);
  const eligible = servers.filter((s) => DEFAULT_FILTERS.every((f) => !f.applies(request) || f.passes(s, request)));
  const keyed = eligible.map((s) => ({ id: s.server_id, k: [s.down_recently ? 1 : 0, sameOf(s), inLocation(s), loadScore(s, w)] as number[] }));
  keyed.sort((a, b) => {
    for (let i = 0; i < 4; i++) if (a.k[i] !== b.k[i]) return a.k[i]! - b.k[i]!;
    return a.id < b.id ? -1 : 1;
  });
  return keyed[0]?.id ?? null;
}

describe('strategy isolation against a reference implementation', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`agrees over a burst of 60 placements (seed ${seed})`, () => {
      // Few scripts and coarse loads make ties on every key common.
      const fleet = generateFleet({
        servers: 40,
        seed,
        scripts: ['A', 'B', 'C'],
        maxAccounts: 12,
        inactiveShare: 0.25,
        locations: seed % 2 === 0 ? ['L1', 'L2'] : Array.from({ length: 20 }, (_, i) => `L${i}`),
      });
      for (const [i, s] of fleet.entries()) {
        if (i % 7 === 0) s.location = null;
        if (i % 3 === 0) { s.cpu_percent = 10; s.memory_percent = 10; s.disk_percent = 10; }
      }
      for (let n = 0; n < 60; n++) {
        const request = placementRequest({ strategy: 'isolation', script_id: ['A', 'B', 'C'][n % 3]! });
        const want = referenceIsolation(fleet, request);
        const got = place(fleet, request, W);
        expect(got.ok ? got.value.server_id : null, `placement ${n}`).to.equal(want);
        if (!got.ok) break;
        addAccount(fleet.find((s) => s.server_id === got.value.server_id)!, request.script_id);
      }
    });
  }
});

describe('isolation location buckets', () => {
  it('give every location one stable slot, past the linear-scan limit too', () => {
    const buckets = new LocationBuckets();
    for (let round = 0; round < 2; round++) {
      buckets.reset();
      const names = Array.from({ length: 70 }, (_, i) => `loc-${i}`);
      const first = names.map((n) => buckets.slotOf(n));
      const again = [...names].reverse().map((n) => buckets.slotOf(n)).reverse();
      expect(again).to.deep.equal(first);
      expect(new Set(first).size).to.equal(70);
      expect(buckets.names).to.have.length(71);
    }
  });
});
