/**
 * SPEC §0 under every flow that moves accounts: a background sampler scans every
 * worker's session directory throughout, and no account may ever be live on two
 * workers. A moved account's file on its new server holds what the runner last wrote
 * on the old one.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LiveSampler, liveIds } from './live-sampler.js';
import { World } from './world.js';
import { waitFor } from '../helpers/wait.js';

/** What the session runner last wrote into an account's file on its worker. */
function runnerWrite(world: World, serverId: string, accountId: string, n: number): string {
  const content = `runner:${accountId}:write-${n}:${serverId}`;
  writeFileSync(join(world.workers.get(serverId)!.sessionsDir, `${accountId}.session`), content);
  return content;
}

function fileOn(world: World, serverId: string, accountId: string): string | null {
  const p = join(world.workers.get(serverId)!.sessionsDir, `${accountId}.session`);
  return existsSync(p) ? readFileSync(p, 'utf8') : null;
}

/** Load scores from account counts alone (see the rebalance test). */
const ACCOUNTS_ONLY = { cpu: 0, memory: 0, accounts: 1, disk: 0 };

describe('safety: no session live on two workers', function () {
  this.timeout(90_000);
  let world: World;
  let sampler: LiveSampler;

  afterEach(async () => {
    await sampler?.stop();
    await world?.stop();
  });

  it('rebalance moves accounts fenced-first and carries the runner\'s last write', async () => {
    // Scores from account counts alone: every worker here reports the same busy machine, at
    // different moments, and a cpu reading 50 points apart could hide the imbalance.
    world = await World.start(3, { controller: { weights: ACCOUNTS_ONLY } });
    const ids = Array.from({ length: 8 }, (_, i) => `rb${i}`);
    for (const id of ids) expect(await world.allocate(id, { server_id: 'w1' })).to.equal('w1');
    const last = new Map(ids.map((id) => [id, runnerWrite(world, 'w1', id, 2)]));
    sampler = await new LiveSampler(world.sessionDirs()).start();

    const dry = await world.api.post('/allocation/rebalance', { threshold: 10, dry_run: true });
    expect(dry.status).to.equal(200);
    expect(dry.body.dry_run).to.equal(true);
    expect(dry.body.migrations.length).to.be.greaterThan(0);
    expect(liveIds(world.workers.get('w1')!.sessionsDir)).to.have.length(8);

    const res = await world.api.post('/allocation/rebalance', { threshold: 10 });
    await sampler.stop();
    expect(res.status).to.equal(200);
    expect(res.body.before.spread).to.be.greaterThan(10);
    expect(res.body.after.spread).to.be.at.most(res.body.before.spread);
    const moved = res.body.migrations.filter((m: { status: string }) => m.status === 'moved');
    expect(moved.length).to.equal(dry.body.migrations.length);
    for (const m of moved) {
      expect(m.from_server_id).to.equal('w1');
      expect(await world.serverOf(m.account_id)).to.equal(m.to_server_id);
      expect(fileOn(world, m.to_server_id, m.account_id)).to.equal(last.get(m.account_id));
      expect(fileOn(world, 'w1', m.account_id)).to.equal(null);
    }
    expect(sampler.scans).to.be.greaterThan(1);
    expect(sampler.duplicates).to.deep.equal([]);
    const history = await world.api.get('/allocation/history?allocation_type=rebalance');
    expect(history.body.items).to.have.length(moved.length);
  });

  it('drain empties a server through the placement pipeline', async () => {
    world = await World.start(3);
    const ids = Array.from({ length: 6 }, (_, i) => `dr${i}`);
    for (const id of ids) await world.allocate(id, { server_id: 'w2' });
    const last = new Map(ids.map((id) => [id, runnerWrite(world, 'w2', id, 5)]));
    sampler = await new LiveSampler(world.sessionDirs()).start();
    const res = await world.api.post('/servers/w2/drain');
    await sampler.stop();
    expect(res.status).to.equal(200);
    expect(res.body.migrations.map((m: { status: string }) => m.status)).to.deep.equal(ids.map(() => 'moved'));
    for (const id of ids) {
      const to = await world.serverOf(id);
      expect(to).to.be.oneOf(['w1', 'w3']);
      expect(fileOn(world, to!, id)).to.equal(last.get(id));
    }
    expect(liveIds(world.workers.get('w2')!.sessionsDir)).to.deep.equal([]);
    expect(res.body.server.status).to.equal('draining');
    // A drained server takes no new accounts.
    expect(await world.allocate('after-drain')).to.not.equal('w2');
    expect(sampler.duplicates).to.deep.equal([]);
  });

  it('a server the config file sets to draining has its accounts moved away on reload', async () => {
    world = await World.start(3);
    const ids = Array.from({ length: 4 }, (_, i) => `cd${i}`);
    for (const id of ids) await world.allocate(id, { server_id: 'w2' });
    const last = new Map(ids.map((id) => [id, runnerWrite(world, 'w2', id, 3)]));
    sampler = await new LiveSampler(world.sessionDirs()).start();
    const current = world.controller.config;
    const servers = new Map([...current.servers].map(([id, s]) => [id, id === 'w2' ? { ...s, status: 'draining' as const } : s]));
    await world.controller.reload({ ...current, servers });
    await waitFor('w2 emptied', async () => {
      for (const id of ids) if ((await world.serverOf(id)) === 'w2') return false;
      return true;
    }, 30_000, 50);
    await sampler.stop();
    for (const id of ids) expect(fileOn(world, (await world.serverOf(id))!, id)).to.equal(last.get(id));
    expect(liveIds(world.workers.get('w2')!.sessionsDir)).to.deep.equal([]);
    expect(sampler.duplicates).to.deep.equal([]);
    const history = await world.api.get('/allocation/history?allocation_type=drain');
    expect(history.body.items).to.have.length(ids.length);
  });

  it('drain moves that failed for want of a server are made by the minute job once one can take them', async () => {
    world = await World.start(2);
    const ids = Array.from({ length: 3 }, (_, i) => `dl${i}`);
    for (const id of ids) await world.allocate(id, { server_id: 'w1' });
    expect((await world.api.post('/servers/w2/cordon')).status).to.equal(200);
    const first = await world.api.post('/servers/w1/drain');
    expect(first.status).to.equal(200);
    expect(first.body.migrations.map((m: { status: string }) => m.status)).to.deep.equal(ids.map(() => 'failed'));
    for (const id of ids) expect(await world.serverOf(id)).to.equal('w1');
    expect(liveIds(world.workers.get('w1')!.sessionsDir)).to.deep.equal(ids);

    expect((await world.api.post('/servers/w2/uncordon')).status).to.equal(200);
    sampler = await new LiveSampler(world.sessionDirs()).start();
    await world.controller.serverOps.continueDrains(); // what the every-minute job runs
    await sampler.stop();
    for (const id of ids) expect(await world.serverOf(id)).to.equal('w2');
    expect(liveIds(world.workers.get('w1')!.sessionsDir)).to.deep.equal([]);
    expect(liveIds(world.workers.get('w2')!.sessionsDir)).to.deep.equal(ids);
    expect(sampler.duplicates).to.deep.equal([]);
  });

  it('failover with SSH reachable fences the dead agent\'s copies, then re-places them', async () => {
    world = await World.start(3);
    const ids = Array.from({ length: 5 }, (_, i) => `fo${i}`);
    for (const id of ids) await world.allocate(id, { server_id: 'w3' });
    const last = new Map(ids.map((id) => [id, runnerWrite(world, 'w3', id, 9)]));
    sampler = await new LiveSampler(world.sessionDirs()).start();
    await world.workers.get('w3')!.agent!.stop('SIGKILL');
    await waitFor('accounts moved off w3', async () => {
      for (const id of ids) if ((await world.serverOf(id)) === 'w3') return false;
      return true;
    }, 30_000);
    await sampler.stop();
    for (const id of ids) {
      const to = (await world.serverOf(id))!;
      expect(to).to.be.oneOf(['w1', 'w2']);
      expect(fileOn(world, to, id)).to.equal(last.get(id));
      expect(fileOn(world, 'w3', id)).to.equal(null);
    }
    const history = await world.api.get('/allocation/history?allocation_type=failover');
    expect(history.body.items).to.have.length(ids.length);
    expect(history.body.items[0].reason).to.include('fenced over SSH');
    expect(sampler.duplicates).to.deep.equal([]);
  });

  it('a network partition: the cut-off agent fences itself before its accounts appear elsewhere; healed, its leftovers are collected', async () => {
    world = await World.start(3, { proxied: ['w1'] });
    const ids = Array.from({ length: 4 }, (_, i) => `np${i}`);
    for (const id of ids) await world.allocate(id, { server_id: 'w1' });
    const w1 = world.workers.get('w1')!;
    sampler = await new LiveSampler(world.sessionDirs()).start();
    w1.proxy!.cut();
    await w1.sshd.stop();
    await waitFor('accounts re-placed off w1', async () => {
      for (const id of ids) if ((await world.serverOf(id)) === 'w1') return false;
      return true;
    }, 30_000);
    // The agent fenced its copies (kept, not deleted) before they appeared elsewhere.
    const fenced = readdirSync(join(w1.sessionsDir, '.fenced')).sort();
    expect(fenced).to.deep.equal(ids.map((id) => `${id}.session`).sort());
    expect(liveIds(w1.sessionsDir)).to.deep.equal([]);
    const history = await world.api.get('/allocation/history?allocation_type=failover');
    expect(history.body.items[0].reason).to.include('lease expired');

    // Heal: the worker comes back, is told its (now empty) list, and its leftovers are collected.
    await w1.sshd.start();
    w1.proxy!.heal();
    await waitFor('w1 healthy again', () => world.controller.fleet.get('w1')!.healthy, 20_000);
    await waitFor('leftover fenced copies collected from w1', () => readdirSync(join(w1.sessionsDir, '.fenced')).length === 0, 20_000);
    await sampler.stop();
    expect(readdirSync(join(world.dir, 'sessions', '.recovered')).length).to.equal(ids.length);
    for (const id of ids) expect(await world.serverOf(id)).to.be.oneOf(['w2', 'w3']);
    expect(sampler.duplicates).to.deep.equal([]);
  });
});
