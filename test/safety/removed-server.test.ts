/** Accounts left on a server that is no longer configured wait for its agent's lease, then become pending. */
import { expect } from 'chai';
import { join } from 'node:path';
import type { Controller } from '../../controller/controller.js';
import { openStore } from '../../controller/store/store.js';
import { Api, fixtureConfig, removeDir, startController, tempDir } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

describe('accounts of a server removed while the controller was down', function () {
  this.timeout(20000);
  let dir: string;
  let controller: Controller | null = null;
  after(async () => {
    await controller?.stop();
    removeDir(dir);
  });

  it('are released to pending only after the lease, with a history row saying why', async () => {
    dir = tempDir('berth-orphans-');
    const store = await openStore(join(dir, 'berth.sqlite'));
    await store.accounts.insert({ account_id: 'orph1', script_id: null, server_id: null, status: 'pending', session_sha256: null, strategy: null, location: null }, 't0');
    await store.ledger.commit({ account_id: 'orph1', server_id: 'gone', from_server_id: null, allocation_type: 'initial', load_score: 1, strategy: 'load_balance', reason: 'r' }, 't1');
    await store.close();

    const started = Date.now();
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w1' }], { lease_ms: 4000, report_interval_ms: 200, failover_after_ms: 5000 }));
    const api = Api.for(controller.port);
    // Still on the removed server for the lease (4 s, ample for a start on a busy machine).
    expect((await api.get('/accounts/orph1')).body).to.include({ server_id: 'gone' });
    await waitFor('orph1 pending', async () => (await api.get('/accounts/orph1')).body.status === 'pending', 15_000);
    expect(Date.now() - started).to.be.at.least(4000);
    const h = await api.get('/allocation/history?account_id=orph1');
    expect(h.body.items[0]).to.include({ server_id: null, from_server_id: 'gone', allocation_type: 'failover' });
    expect(h.body.items[0].reason).to.include('no longer configured');
  });
});
