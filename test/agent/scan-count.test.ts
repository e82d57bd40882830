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
      const [scans1, reports] = [counted.scans, messagesOf(conn, 'report').slice(reports0)];
      expect(reports.length, 'reports flowed').to.be.at.least(10);
      // Each report scans once; the timer scanning on its own too would make it about two
      // per report (20 more here). The timer may rightly scan once in a gap between two
      // reports longer than SCAN_GAP intervals (a report held up on a busy machine).
      const longGaps = reports.filter((r, i) => i > 0 && Date.parse(r.sent_at) - Date.parse(reports[i - 1]!.sent_at) > SCAN_GAP * INTERVAL_MS).length;
      expect(scans1 - scans0, `scans for ${reports.length} reports with ${longGaps} long gaps`).to.be.at.most(reports.length + longGaps + 2);

      // Reports stop (the controller is gone): the timer goes on scanning, about every
      // SCAN_GAP intervals, and no more often.
      await controller.close();
      const scans2 = counted.scans;
      const t0 = performance.now();
      await waitFor('3 scans by the timer alone', () => counted.scans - scans2 >= 3, 10_000, 10);
      await sleep(10 * INTERVAL_MS);
      const elapsed = performance.now() - t0;
      expect(counted.scans - scans2, `scans by the timer alone in ${Math.round(elapsed)} ms`).to.be.at.most(Math.ceil(elapsed / (SCAN_GAP * INTERVAL_MS)) + 1);
    } finally {
      await stop();
    }
  });

  it('the timer takes the interval of the welcome at once, not after the config\'s (5 s) has passed', async () => {
    const { controller, counted, stop } = await welcomed({});
    try {
      await controller.close();
      const before = counted.scans;
      // At the welcome's 100 ms well under a second; at the config's 5 s the first alone
      // would come after 7.5 s.
      const t0 = performance.now();
      await waitFor('3 scans by the timer', () => counted.scans - before >= 3, 10_000, 10);
      expect(performance.now() - t0, 'ms for 3 scans by the timer').to.be.below(5_000);
    } finally {
      await stop();
    }
  });
});
