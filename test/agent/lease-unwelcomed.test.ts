/**
 * Only a controller that welcomed the agent renews its lease: a socket that opens and is
 * pinged, but whose hello is never answered (a refused agent, a controller that is not
 * ours), must not keep the agent's sessions live.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { messagesOf, spawnAgent, StandInController, tempDir, waitFor, type AgentProcess } from './helpers.js';

describe('agent lease without a welcome', function () {
  this.timeout(20000);
  let tmp: { path: string; cleanup: () => void };
  let controller: StandInController;
  let agent: AgentProcess;

  after(async () => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await controller?.close();
    tmp?.cleanup();
  });

  it('self-fences after lease_ms even while the unwelcoming socket is pinged', async () => {
    tmp = tempDir('berth-agent-lease-');
    const sessions = join(realpathSync(tmp.path), 'sessions');
    mkdirSync(sessions);
    writeFileSync(join(sessions, 'b1.session'), 'b1');
    controller = await StandInController.start();
    controller.autoPingMs = 100;
    const configFile = join(tmp.path, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ controller_url: controller.baseUrl, node_id: 'worker-09', token: 'token-of-worker-09-xyz', sessions_dir: sessions, lease_ms: 1200 }));
    agent = spawnAgent(configFile);
    const conn = await controller.connection(0);
    await waitFor('hello', () => messagesOf(conn, 'hello').length === 1);
    await waitFor('self-fenced', () => existsSync(join(sessions, '.fenced', 'b1.session')), 10_000);
    expect(readdirSync(sessions).filter((n) => n.endsWith('.session'))).to.deep.equal([]);
  });

  it('a restarted agent keeps the lease it had: the time last heard is read back from sessions_dir', async () => {
    agent.child.kill('SIGKILL');
    await controller.close();
    tmp.cleanup();
    tmp = tempDir('berth-agent-lease2-');
    const sessions = join(realpathSync(tmp.path), 'sessions');
    mkdirSync(sessions);
    writeFileSync(join(sessions, 'c1.session'), 'c1');
    // An earlier run last heard its controller 120 s ago; the lease is 60 s.
    writeFileSync(join(sessions, '.berth-lease'), `${Date.now() - 120_000}\n`);
    controller = await StandInController.start();
    const configFile = join(tmp.path, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ controller_url: controller.baseUrl, node_id: 'worker-09', token: 'token-of-worker-09-xyz', sessions_dir: sessions, lease_ms: 60_000 }));
    const started = Date.now();
    agent = spawnAgent(configFile);
    await waitFor('fenced at once, not 60 s after the restart', () => existsSync(join(sessions, '.fenced', 'c1.session')), 30_000);
    expect(Date.now() - started).to.be.lessThan(20_000);
  });
});
