/** Rankings agree with placement: rank 1 is the server the strategy would choose. */
import { expect } from 'chai';
import { place, rankServers } from '../../controller/placement/pipeline.js';
import { DEFAULT_WEIGHTS } from '../../controller/placement/scorers/load-score.js';
import { STRATEGIES } from '../../controller/placement/types.js';
import { addAccount, generateFleet, placementRequest, serverView } from '../helpers/placement-builders.js';

describe('placement: rankings follow the strategy', () => {
  it('affinity: servers without the script are ineligible with a reason while a host exists', () => {
    const host = serverView('a1', { cpu_percent: 50 });
    addAccount(host, 'S1');
    const other = serverView('a2', { cpu_percent: 10 });
    const ranked = rankServers([host, other], { strategy: 'affinity', script_id: 'S1' }, DEFAULT_WEIGHTS);
    expect(ranked.map((c) => [c.server_id, c.eligible])).to.deep.equal([['a1', true], ['a2', false]]);
    expect(ranked[1]!.reasons.join()).to.include('runs no account of script S1');
    // No host anywhere: affinity falls back to load_balance and nobody is rejected for it.
    const none = rankServers([serverView('b1'), serverView('b2', { cpu_percent: 5 })], { strategy: 'affinity', script_id: 'S9' }, DEFAULT_WEIGHTS);
    expect(none.every((c) => c.eligible)).to.equal(true);
  });

  for (const strategy of STRATEGIES) {
    it(`${strategy}: over generated fleets, rank 1 is where place() goes`, () => {
      for (let seed = 1; seed <= 25; seed++) {
        const fleet = generateFleet({ servers: 40, seed, maxAccounts: 10 });
        const script = `script-${seed % 5}`;
        const location = ['LosAngeles', 'Tokyo', 'Nowhere'][seed % 3]!;
        const req = placementRequest({ strategy, script_id: script, location });
        const placed = place(fleet, req, DEFAULT_WEIGHTS);
        const ranked = rankServers(fleet, req, DEFAULT_WEIGHTS);
        if (placed.ok) expect(ranked[0]!.server_id, `seed ${seed}`).to.equal(placed.value.server_id);
        else expect(ranked.some((c) => c.eligible)).to.equal(false);
      }
    });
  }
});
