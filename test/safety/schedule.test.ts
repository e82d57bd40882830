/** `rebalance.schedule` runs the rebalance with node-cron, fencing first as ever. */
import { expect } from 'chai';
import { LiveSampler } from './live-sampler.js';
import { World } from './world.js';
import { waitFor } from '../helpers/wait.js';

describe('scheduled rebalance', function () {
  this.timeout(60_000);
  let world: World;
  let sampler: LiveSampler | null = null;
  after(async () => {
    await sampler?.stop();
    await world?.stop();
  });

  it('runs on its cron schedule and brings the spread under the threshold', async () => {
    // Scores from account counts alone: both workers report the same machine at different
    // moments, so cpu and memory readings would only add noise to the spread.
    world = await World.start(2, { controller: { weights: { cpu: 0, memory: 0, accounts: 1, disk: 0 }, rebalance: { schedule: '* * * * * *', threshold: 10, max_migrations: 10, cooldown_ms: 1800000 } } });
    expect(world.controller.jobs.names()).to.include('rebalance');
    sampler = await new LiveSampler(world.sessionDirs()).start();
    for (const id of ['s1', 's2', 's3', 's4', 's5', 's6']) await world.allocate(id, { server_id: 'w1' });
    const moved = await waitFor('a scheduled rebalance to move accounts', async () => {
      const h = await world.api.get('/allocation/history?allocation_type=rebalance');
      return h.body.items.length >= 2 ? h.body.items : null;
    }, 20_000);
    for (const m of moved) expect(m).to.include({ from_server_id: 'w1', server_id: 'w2' });
    const dry = await world.api.post('/allocation/rebalance', { threshold: 10, dry_run: true });
    expect(dry.body.before.spread).to.be.at.most(10);
    await sampler.stop();
    expect(sampler.duplicates).to.deep.equal([]);
  });
});
