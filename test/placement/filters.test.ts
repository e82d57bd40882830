import { expect } from 'chai';
import { capacityFilter } from '../../controller/placement/filters/capacity.js';
import { diskFilter } from '../../controller/placement/filters/disk.js';
import { exclusionFilter } from '../../controller/placement/filters/exclusion.js';
import { healthyFilter } from '../../controller/placement/filters/healthy.js';
import { locationFilter } from '../../controller/placement/filters/location.js';
import { statusFilter } from '../../controller/placement/filters/status.js';
import { place, rankServers } from '../../controller/placement/pipeline.js';
import { DEFAULT_FILTERS, passesDefaultFilters } from '../../controller/placement/registry.js';
import type { PlacementRequest } from '../../controller/placement/types.js';
import { generateFleet, placementRequest, serverView, type ServerOverrides } from '../helpers/placement-builders.js';
import { PLACEMENT_LIST_BYTES, PLACEMENT_MAX_IDS, ROOM_FOR_ANY_ID } from '../../controller/placement/filters/capacity.js';

const WEIGHTS = { cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 };

describe('placement filters', () => {
  const cases: { name: string; server: ServerOverrides; request?: Partial<PlacementRequest>; want: string[] }[] = [
    { name: 'an active healthy server with room passes', server: {}, want: [] },
    { name: 'draining', server: { status: 'draining' }, want: ['status is draining'] },
    { name: 'disabled', server: { status: 'disabled' }, want: ['status is disabled'] },
    { name: 'agent not reporting', server: { healthy: false }, want: ['agent not reporting'] },
    { name: 'full', server: { accounts: 5, max_accounts: 5 }, want: ['full: 5/5 accounts'] },
    { name: 'over-full (in-flight placements count)', server: { accounts: 6, max_accounts: 5 }, want: ['full: 6/5 accounts'] },
    { name: 'one slot left passes', server: { accounts: 4, max_accounts: 5 }, want: [] },
    { name: 'disk at 96.1%', server: { disk_percent: 96.1 }, want: ['disk 96.1% ≥ 95%'] },
    { name: 'disk exactly 95%', server: { disk_percent: 95 }, want: ['disk 95.0% ≥ 95%'] },
    { name: 'disk 94.9% passes', server: { disk_percent: 94.9 }, want: [] },
    { name: 'excluded by the request', server: {}, request: { exclude: new Set(['s1']) }, want: ['excluded by the request'] },
    { name: 'another server excluded', server: {}, request: { exclude: new Set(['s9']) }, want: [] },
    {
      name: 'location applies only to strategy location',
      server: { location: 'Tokyo' },
      request: { strategy: 'load_balance', location: 'LosAngeles' },
      want: [],
    },
    {
      name: 'location mismatch under strict location',
      server: { location: 'Tokyo' },
      request: { strategy: 'location', location: 'LosAngeles', strict: true },
      want: ['location Tokyo ≠ LosAngeles'],
    },
    {
      name: 'every failing filter is listed, cheapest first',
      server: { status: 'draining', healthy: false, accounts: 5, max_accounts: 5, disk_percent: 99 },
      request: { exclude: new Set(['s1']) },
      want: ['status is draining', 'agent not reporting', 'full: 5/5 accounts', 'disk 99.0% ≥ 95%', 'excluded by the request'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const servers = [serverView('s1', c.server)];
      const [candidate] = rankServers(servers, placementRequest(c.request), WEIGHTS);
      expect(candidate!.reasons).to.deep.equal(c.want);
      expect(candidate!.eligible).to.equal(c.want.length === 0);
      const placed = place(servers, placementRequest(c.request), WEIGHTS);
      expect(placed.ok).to.equal(c.want.length === 0);
      if (!placed.ok) expect(placed.error.candidates[0]!.reasons).to.deep.equal(c.want);
    });
  }

  it('each filter declares itself and gives its reason directly', () => {
    const request = placementRequest({ strategy: 'location', location: 'LosAngeles', exclude: new Set(['x']) });
    const bad = serverView('x', { status: 'draining', healthy: false, accounts: 3, max_accounts: 3, disk_percent: 97.25, location: null });
    expect(statusFilter.passes(bad)).to.equal(false);
    expect(healthyFilter.reason()).to.equal('agent not reporting');
    expect(capacityFilter.reason(bad, request)).to.equal('full: 3/3 accounts');
    expect(diskFilter.reason(bad)).to.equal('disk 97.3% ≥ 95%');
    expect(exclusionFilter.passes(bad, request)).to.equal(false);
    expect(locationFilter.reason(bad, request)).to.equal('location unknown ≠ LosAngeles');
    expect(exclusionFilter.applies(placementRequest())).to.equal(false);
    expect(locationFilter.applies(placementRequest({ strategy: 'location', location: null }))).to.equal(false);
  });

  it('capacity also keeps a server\'s account list within one agent-protocol frame, with room for moves (4000 ids, 55 KiB)', () => {
    const id10 = 'a'.repeat(10);
    const nearlyFull = serverView('s1', { max_accounts: 10_000, accounts: 500, account_list_bytes: PLACEMENT_LIST_BYTES - 12 });
    expect(capacityFilter.passes(nearlyFull, placementRequest({ account_id: 'a'.repeat(9) }))).to.equal(true);
    expect(capacityFilter.passes(nearlyFull, placementRequest({ account_id: id10 }))).to.equal(false);
    expect(capacityFilter.reason(nearlyFull, placementRequest({ account_id: id10 }))).to.match(/^account list full: the agent protocol carries at most 4096 ids/);
    // The count: near the byte limit the exact check counts ids too; elsewhere max_accounts,
    // which the config lowers to 4000, does.
    const manyIds = serverView('s2', { max_accounts: 10_000, accounts: PLACEMENT_MAX_IDS, account_list_bytes: PLACEMENT_LIST_BYTES - 100 });
    expect(capacityFilter.passes(manyIds, placementRequest({ account_id: id10 }))).to.equal(false);
    // The decision path (fused filters) and the explanation agree.
    const [candidate] = rankServers([nearlyFull], placementRequest({ account_id: id10 }), WEIGHTS);
    expect(candidate!.eligible).to.equal(false);
    expect(place([nearlyFull], placementRequest({ account_id: id10 }), WEIGHTS).ok).to.equal(false);
    expect(place([nearlyFull], placementRequest({ account_id: 'a'.repeat(9) }), WEIGHTS).ok).to.equal(true);
  });

  it('rankings, which name no account, count a server eligible only if its list has room for the longest id', () => {
    const roomForAny = serverView('s1', { max_accounts: 10_000, accounts: 500, account_list_bytes: ROOM_FOR_ANY_ID });
    const roomForShort = serverView('s2', { max_accounts: 10_000, accounts: 500, account_list_bytes: ROOM_FOR_ANY_ID + 1 });
    const ranked = rankServers([roomForAny, roomForShort], { strategy: 'load_balance' }, WEIGHTS);
    expect(ranked.map((c) => [c.server_id, c.eligible])).to.deep.equal([['s1', true], ['s2', false]]);
    expect(ranked[1]!.reasons.join(' ')).to.match(/account list full/);
    // A placement of a real, short id still fits there.
    expect(place([roomForShort], placementRequest({ account_id: 'a'.repeat(9) }), WEIGHTS).ok).to.equal(true);
  });

  it('the registry lists the default filters cheapest first', () => {
    expect(DEFAULT_FILTERS.map((f) => f.name)).to.deep.equal(['status', 'healthy', 'capacity', 'disk', 'exclusion']);
  });

  it('the fused hot-path check agrees with the filter list on a generated fleet', () => {
    const fleet = generateFleet({ servers: 500, seed: 11, inactiveShare: 0.2 });
    const requests = [placementRequest(), placementRequest({ exclude: new Set(fleet.slice(0, 50).map((s) => s.server_id)) })];
    let eligible = 0;
    for (const request of requests) {
      for (const server of fleet) {
        const all = DEFAULT_FILTERS.every((f) => !f.applies(request) || f.passes(server, request));
        expect(passesDefaultFilters(server, request), server.server_id).to.equal(all);
        if (all) eligible++;
      }
    }
    expect(eligible).to.be.greaterThan(100).and.lessThan(900);
  });
});
