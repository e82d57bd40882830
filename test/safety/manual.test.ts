/** Moves on demand: POST /accounts/{id}/move, cordon, uncordon (SPEC §5, §7). */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { World } from './world.js';

describe('moves on demand', function () {
  this.timeout(60_000);
  let world: World;
  before(async () => { world = await World.start(3, { maxAccounts: 3 }); });
  after(async () => { await world?.stop(); });

  it('moves an account to the server asked for, fencing first, recorded as manual', async () => {
    await world.allocate('mv1', { server_id: 'w1' });
    const res = await world.api.post('/accounts/mv1/move', { server_id: 'w2' });
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ account_id: 'mv1', server_id: 'w2', allocation_type: 'manual' });
    expect(existsSync(join(world.workers.get('w1')!.sessionsDir, 'mv1.session'))).to.equal(false);
    expect(readFileSync(join(world.workers.get('w2')!.sessionsDir, 'mv1.session'), 'utf8')).to.equal('initial:mv1');
    const h = await world.api.get('/allocation/history?account_id=mv1');
    expect(h.body.items[0]).to.include({ server_id: 'w2', from_server_id: 'w1', allocation_type: 'manual' });
  });

  it('without server_id the pipeline chooses another server', async () => {
    const res = await world.api.post('/accounts/mv1/move', {});
    expect(res.status).to.equal(200);
    expect(res.body.server_id).to.be.oneOf(['w1', 'w3']);
  });

  it('refuses bad moves and changes nothing', async () => {
    const where = await world.serverOf('mv1');
    expect((await world.api.post('/accounts/nobody/move', {})).body.error.code).to.equal('ACCOUNT_NOT_FOUND');
    expect((await world.api.post('/accounts/mv1/move', { server_id: 'nope' })).body.error.code).to.equal('SERVER_NOT_FOUND');
    expect((await world.api.post('/accounts/mv1/move', { server_id: where })).status).to.equal(400);
    expect((await world.api.post('/accounts/mv1/move', { server_id: 7 })).status).to.equal(400);
    expect(await world.serverOf('mv1')).to.equal(where);
    expect(existsSync(join(world.workers.get(where!)!.sessionsDir, 'mv1.session'))).to.equal(true);
  });

  it('a move onto a full server is refused before anything is fenced', async () => {
    if ((await world.serverOf('mv1')) === 'w3') await world.api.post('/accounts/mv1/move', { server_id: 'w1' });
    for (let i = world.controller.fleet.get('w3')!.accounts; i < 3; i++) await world.allocate(`f${i}`, { server_id: 'w3' });
    const where = await world.serverOf('mv1');
    const res = await world.api.post('/accounts/mv1/move', { server_id: 'w3' });
    expect(res.status).to.equal(503);
    expect(res.body.error.code).to.equal('NO_ELIGIBLE_SERVER');
    expect(JSON.stringify(res.body.error.details)).to.include('full');
    expect(existsSync(join(world.workers.get(where!)!.sessionsDir, 'mv1.session'))).to.equal(true);
  });

  it('cordon takes a server out of placement with a reason; uncordon brings it back', async () => {
    expect((await world.api.post('/servers/w1/cordon')).body.status).to.equal('disabled');
    const r = await world.api.get('/allocation/rankings');
    const w1 = r.body.servers.find((s: { server_id: string }) => s.server_id === 'w1');
    expect(w1.eligible).to.equal(false);
    expect(w1.reasons.join(' ')).to.include('disabled');
    world.seed('c1', 'c1');
    const cordoned = await world.api.post('/allocation/allocate', { account_id: 'c1', session_file: 'sessions/c1.session', server_id: 'w1', dry_run: true });
    expect(cordoned.status).to.equal(503);
    expect(cordoned.body.error.code).to.equal('NO_ELIGIBLE_SERVER');
    expect((await world.api.post('/servers/w1/uncordon')).body.status).to.equal('active');
    const back = await world.api.get('/allocation/rankings');
    expect(back.body.servers.find((s: { server_id: string }) => s.server_id === 'w1').eligible).to.equal(true);
  });
});
