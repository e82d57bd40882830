/**
 * Recovery of unfinished moves when one target server is frozen: the moves toward it
 * wait for the next pass, the others are settled in this one, and a pass costs about
 * one `upload_timeout_ms` for the frozen server, not one per move toward it.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveIds } from './live-sampler.js';
import { World } from './world.js';
import { waitFor } from '../helpers/wait.js';

const TIMEOUT_MS = 2000;

describe('safety: recovering unfinished moves past a frozen server', function () {
  this.timeout(120_000);
  let world: World;
  after(async () => {
    world?.workers.get('w2')?.sshd.resume();
    await world?.stop();
  });

  it('settles the moves it can in one pass and the rest once the server answers; nothing is lost or live twice', async () => {
    world = await World.start(3, { maxAccounts: 40, controller: { upload_timeout_ms: TIMEOUT_MS } });
    const { store } = world.controller;
    const towardFrozen = Array.from({ length: 20 }, (_, i) => `rp${String(i).padStart(2, '0')}`);
    const towardHealthy = 'rphealthy';
    for (const id of [...towardFrozen, towardHealthy]) await world.allocate(id, { server_id: 'w1' });
    const w1 = world.workers.get('w1')!;

    // The journal as a controller killed mid-rebalance leaves it: each move was heading
    // for w2 (one for w3), and half of them had fenced the copy off w1 already.
    const now = new Date().toISOString();
    for (const id of towardFrozen) {
      await store.ledger.begin({ account_id: id, from_server_id: 'w1', to_server_id: 'w2', phase: 'placing', allocation_type: 'rebalance' }, now);
    }
    await store.ledger.begin({ account_id: towardHealthy, from_server_id: 'w1', to_server_id: 'w3', phase: 'placing', allocation_type: 'rebalance' }, now);
    const fenced = towardFrozen.filter((_, i) => i % 2 === 0);
    for (const id of fenced) rmSync(join(w1.sessionsDir, `${id}.session`));

    // Count how often the pass asks frozen w2 for its listing.
    const transfer = world.controller.transfer;
    const listRemote = transfer.listRemote.bind(transfer);
    let askedW2 = 0;
    transfer.listRemote = (serverId, options) => {
      if (serverId === 'w2') askedW2++;
      return listRemote(serverId, options);
    };
    world.workers.get('w2')!.sshd.pause();
    const started = performance.now();
    await world.controller.reconciler.recoverMoves();
    const passMs = performance.now() - started;
    const askedInPass = askedW2;

    // One pass: the move toward w3 rolled back (its copy never landed there) ...
    expect(await store.ledger.get(towardHealthy)).to.equal(undefined);
    expect(await world.serverOf(towardHealthy)).to.equal('w1');
    // ... the 20 toward frozen w2 wait, untouched, and w2 cost one round of timeouts, not
    // one per move: only the first moves, 8 side by side, asked it (asking it for each
    // move took 3 rounds of 2 s, one at a time 20 × 2 s).
    expect((await store.ledger.unfinished()).map((m) => m.account_id).sort()).to.deep.equal(towardFrozen);
    expect(askedInPass, 'listings asked of frozen w2 in the pass').to.be.within(1, 8);
    expect(passMs, 'pass duration (ms)').to.be.below(10 * TIMEOUT_MS);

    // w2 answers again: the retry settles every move; each account is live exactly once,
    // on w1, the fenced ones restored from the controller's copy.
    world.workers.get('w2')!.sshd.resume();
    await waitFor('every move settled', async () => (await store.ledger.unfinished()).length === 0, 60_000, 100);
    const onW1 = liveIds(w1.sessionsDir);
    for (const id of [...towardFrozen, towardHealthy]) {
      expect(await world.serverOf(id), id).to.equal('w1');
      expect(onW1, id).to.include(id);
    }
    expect(liveIds(world.workers.get('w2')!.sessionsDir)).to.deep.equal([]);
    expect(liveIds(world.workers.get('w3')!.sessionsDir)).to.deep.equal([]);
  });
});
