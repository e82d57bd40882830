/**
 * The agent scans its session directory once per report while reports flow, and on its
 * own (hooks, fencing) only when reports stop. The real Agent runs in this process against
 * a stand-in controller over a real WebSocket; its directory object is wrapped to count
 * scans.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Agent, SCAN_GAP } from '../../agent/agent.js';
import { loadAgentConfig } from '../../agent/config.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { createLogger } from '../../shared/log.js';
import { sleep } from '../helpers/wait.js';
import { messagesOf, StandInController, tempDir, waitFor } from './helpers.js';
import { writeFileSync } from 'node:fs';

const INTERVAL_MS = 100;

describe('agent directory scans', function () {
  this.timeout(20000);

  /** The real Agent in this process, welcomed by a stand-in controller, its scans counted. */
  async function welcomed(config: Record<string, unknown>) {
    const tmp = tempDir('berth-agent-scans-');
    const controller = await StandInController.start();
    const file = join(tmp.path, 'agent.json');
    writeFileSync(file, JSON.stringify({ controller_url: controller.baseUrl, node_id: 'worker-01', token: 't0ken', sessions_dir: join(tmp.path, 'sessions'), ...config }));
    const agent = new Agent({ config: loadAgentConfig({ file, env: {} }).config, logger: createLogger({ name: 'test', level: 'silent' }), env: {} });
    const dir = (agent as unknown as { dir: { scan(): Promise<string[]> } }).dir;
    const counted = { scans: 0 };
    const scan = dir.scan.bind(dir);
    dir.scan = () => { counted.scans++; return scan(); };
    const stop = async () => {
      await agent.stop();
      await controller.close().catch(() => undefined);
      tmp.cleanup();
    };
    try {
      await agent.start();
      const conn = await controller.connection(0);
      await waitFor('hello', () => messagesOf(conn, 'hello')[0]);
      conn.send({ type: 'welcome', protocol: PROTOCOL_VERSION, report_interval_ms: INTERVAL_MS, lease_ms: 60_000, assigned: [] });
      await waitFor('first report', () => messagesOf(conn, 'report').length >= 1);
      return { controller, conn, counted, stop };
    } catch (e) {
      await stop();
      throw e;
    }
  }

  it('one scan per report while reports flow; the timer scans alone once they stop', async () => {
    const { controller, conn, counted, stop } = await welcomed({ report_interval_ms: INTERVAL_MS });
    try {
      const [scans0, reports0] = [counted.scans, messagesOf(conn, 'report').length];
      await sleep(20 * INTERVAL_MS);
      const [scans1, reports1] = [counted.scans, messagesOf(conn, 'report').length];
      expect(reports1 - reports0, 'reports flowed').to.be.at.least(10);
      // Each report scans once; the timer scanning on its own too would make it about two
      // per report (20 more here). A few spare for a report held up on a busy machine.
      expect(scans1 - scans0, `scans for ${reports1 - reports0} reports`).to.be.at.most(reports1 - reports0 + 4);

      // Reports stop (the controller is gone): the timer goes on scanning, about every
      // SCAN_GAP intervals.
      await controller.close();
      const scans2 = counted.scans;
      await sleep(10 * INTERVAL_MS);
      expect(counted.scans - scans2, 'scans by the timer alone in 10 intervals').to.be.within(3, Math.ceil(10 / SCAN_GAP) + 1);
    } finally {
      await stop();
    }
  });

  it('the timer takes the interval of the welcome at once, not after the config\'s (5 s) has passed', async () => {
    const { controller, counted, stop } = await welcomed({});
    try {
      await controller.close();
      const before = counted.scans;
      await sleep(10 * INTERVAL_MS);
      expect(counted.scans - before, 'scans by the timer in 1 s').to.be.at.least(3);
    } finally {
      await stop();
    }
  });
});
