/** An agent socket that stops answering pings (a half-open connection) is dropped after two intervals. */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import type { Controller } from '../../controller/controller.js';
import { AGENT_CONNECT_PATH, NODE_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { agentToken, fixtureConfig, removeDir, startController, tempDir } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

describe('agent endpoint: half-open sockets', function () {
  this.timeout(20000);
  let dir: string;
  let controller: Controller;
  after(async () => {
    await controller?.stop();
    removeDir(dir);
  });

  it('drops an agent that no longer answers pings, so its server counts as disconnected', async () => {
    dir = tempDir('berth-half-open-');
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w1' }], { failover_after_ms: 600_000, down_after_ms: 60_000, lease_ms: 30_000 }));
    const ws = new WebSocket(`ws://127.0.0.1:${controller.port}${AGENT_CONNECT_PATH}`, {
      headers: { Authorization: `Bearer ${agentToken('w1')}`, [NODE_HEADER]: 'w1' },
      autoPong: false,
    });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, node_id: 'w1', agent_version: 't', hostname: 'h', sessions_dir: '/s' }));
    ws.send(JSON.stringify({ type: 'report', seq: 1, sent_at: new Date().toISOString(), cpu_percent: 1, memory_percent: 1, disk_percent: 1, load_avg: [], accounts: [] }));
    await waitFor('w1 connected', () => controller.fleet.get('w1')!.connected);
    // Pinged every 200 ms and never answering: dropped after about two intervals.
    await waitFor('w1 dropped', () => !controller.fleet.get('w1')!.connected, 5000);
    expect(await closed).to.equal(1006);
  });
});
