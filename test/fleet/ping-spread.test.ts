/**
 * Above 250 agents the controller's pings go out in slices spread over the first half of
 * the interval, not in one burst (whose pongs set every server's latency_ms at once).
 * 600 raw agents over real WebSockets record when each ping reaches them.
 */
import { expect } from 'chai';
import type { Controller } from '../../controller/controller.js';
import { fixtureConfig, removeDir, startController, tempDir } from '../helpers/controller-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { openAgent, type TestAgent } from './agent-client.js';

const AGENTS = 600;
const INTERVAL_MS = 2000;

describe('agent endpoint: pings to a large fleet', function () {
  this.timeout(60_000);
  let dir = '';
  let controller: Controller | null = null;
  const agents: TestAgent[] = [];
  after(async () => {
    for (const a of agents) a.ws.terminate();
    await controller?.stop();
    if (dir) removeDir(dir);
  });

  it('go out spread over half the interval, each agent once a round, and every pong sets latency_ms', async () => {
    dir = tempDir('berth-ping-spread-');
    const ids = Array.from({ length: AGENTS }, (_, i) => `p${String(i).padStart(3, '0')}`);
    controller = await startController(dir, fixtureConfig(dir, ids.map((id) => ({ id })), {
      report_interval_ms: INTERVAL_MS, down_after_ms: 600_000, lease_ms: 600_000, failover_after_ms: 1_200_000,
    }));
    const pings: { id: string; at: number }[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      agents.push(...await Promise.all(ids.slice(i, i + 100).map(async (id) => {
        const a = await openAgent(controller!.port, id);
        a.ws.on('ping', () => pings.push({ id, at: performance.now() }));
        await a.hello();
        return a;
      })));
    }
    // Two whole rounds after every agent is welcomed.
    const from = performance.now();
    await sleep(2 * INTERVAL_MS + 500);
    const seen = pings.filter((p) => p.at >= from).sort((a, b) => a.at - b.at);
    // Rounds: pings more than a quarter interval apart belong to different rounds.
    const rounds: { id: string; at: number }[][] = [];
    for (const p of seen) {
      const last = rounds.at(-1);
      if (last && p.at - last.at(-1)!.at < INTERVAL_MS / 4) last.push(p);
      else rounds.push([p]);
    }
    const whole = rounds.filter((r) => r.length === AGENTS);
    expect(whole.length, `rounds with every agent pinged (sizes ${rounds.map((r) => r.length).join(', ')})`).to.be.at.least(1);
    for (const r of whole) {
      expect(new Set(r.map((p) => p.id)).size, 'each agent once a round').to.equal(AGENTS);
      const span = r.at(-1)!.at - r[0]!.at;
      // Three slices of 250, 250 and 100, a third of half the interval apart: ~667 ms.
      expect(span, 'ms from the first ping of a round to the last').to.be.within(INTERVAL_MS / 5, INTERVAL_MS / 2 + 400);
    }
    await waitFor('every server has a latency', () => ids.every((id) => controller!.fleet.get(id)!.latency_ms !== null), 5000);
  });
});
