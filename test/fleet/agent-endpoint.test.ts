/**
 * The agents' WebSocket endpoint (SPEC §6) against raw `ws` clients and a real
 * controller on port 0: authentication of the upgrade, hello/welcome, reports feeding the
 * rankings, every kind of bad frame closing only its own socket, replacement of an older
 * connection, ping latency, silence → down → back, and the load sampler.
 */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { FRAME_READ_LIMIT_BYTES, NODE_HEADER } from '../../shared/protocol.js';
import type { Controller } from '../../controller/controller.js';
import { LoadSampler, SAMPLE_RETENTION_MS } from '../../controller/fleet/sampler.js';
import { Api, agentToken, fixtureConfig, removeDir, startController, tempDir } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { connectAgent, openAgent, reportingAgent, type TestAgent } from './agent-client.js';

interface RankingRow {
  server_id: string; eligible: boolean; reasons: string[]; healthy: boolean; load_score: number;
  cpu_percent: number; memory_percent: number; disk_percent: number; reported_accounts: number | null;
  latency_ms: number | null; last_report_at: string | null; consecutive_failures: number;
}

describe('agent endpoint (SPEC §6)', function () {
  let dir: string;
  let controller: Controller;
  let api: Api;
  const open: TestAgent[] = [];

  const rankings = async (): Promise<RankingRow[]> => {
    const res = await api.get('/allocation/rankings');
    expect(res.status).to.equal(200);
    return res.body.servers as RankingRow[];
  };
  const row = async (id: string): Promise<RankingRow> => (await rankings()).find((r) => r.server_id === id)!;
  const server = async (id: string) => (await api.get(`/servers/${id}`)).body;
  const track = (a: TestAgent) => { open.push(a); return a; };

  before(async () => {
    dir = tempDir('berth-agent-endpoint-');
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w1' }, { id: 'w2' }, { id: 'w3' }, { id: 'w4' }], { failover_after_ms: 600_000, down_after_ms: 2000, lease_ms: 2500 }));
    api = Api.for(controller.port);
  });

  afterEach(async () => {
    for (const a of open.splice(0)) if (a.open) { a.close(); await a.closed().catch(() => undefined); }
    await waitFor('every agent gone', () => controller.hub.connectedCount === 0);
  });

  after(async () => {
    await controller?.stop();
    removeDir(dir);
  });

  describe('upgrade authentication', () => {
    const cases: { name: string; node: string | null; token: string | null }[] = [
      { name: 'no token', node: 'w1', token: null },
      { name: 'no node header', node: null, token: agentToken('w1') },
      { name: 'a wrong token', node: 'w1', token: 'not-the-token' },
      { name: "another node's token", node: 'w1', token: agentToken('w2') },
      { name: 'an unknown node', node: 'w9', token: agentToken('w9') },
      { name: 'an admin API token', node: 'w1', token: 'test-admin-token-0123456789' },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with 401 and keeps no connection`, async () => {
        const out = await connectAgent(controller.port, c.node, c.token);
        expect(out).to.deep.equal({ refused: 401 });
        expect(controller.hub.connectedCount).to.equal(0);
        expect((await server('w1')).connected).to.equal(false);
      });
    }

    it('refuses other paths with 404', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${controller.port}/api/v1/agents/other`, { headers: { [NODE_HEADER]: 'w1', authorization: `Bearer ${agentToken('w1')}` } });
      const status = await new Promise<number>((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate(); });
        ws.once('open', () => { ws.terminate(); reject(new Error('upgrade accepted')); });
        ws.once('error', reject);
      });
      expect(status).to.equal(404);
    });
  });

  it('welcomes a hello with report_interval_ms, lease_ms and the assigned ids', async () => {
    const a = track(await openAgent(controller.port, 'w1'));
    const welcome = await a.hello();
    expect(welcome).to.deep.equal({ type: 'welcome', protocol: 1, report_interval_ms: 200, lease_ms: 2500, assigned: [] });
    const s = await server('w1');
    expect(s.connected).to.equal(true);
    expect(s.agent).to.deep.equal({ version: 'test-0.0.0', hostname: 'host-w1', sessions_dir: '/srv/w1/sessions' });
  });

  it('a report makes the server healthy in the rankings with its figures', async () => {
    track(await reportingAgent(controller.port, 'w1', { cpu_percent: 12.5, memory_percent: 40, disk_percent: 55, accounts: ['acc-1', 'acc-2'] }));
    const r = await waitFor('w1 healthy', async () => { const x = await row('w1'); return x.healthy ? x : null; });
    expect(r).to.include({ eligible: true, cpu_percent: 12.5, memory_percent: 40, disk_percent: 55, reported_accounts: 2, consecutive_failures: 0 });
    expect(r.reasons).to.deep.equal([]);
    expect(Date.parse(r.last_report_at!)).to.be.closeTo(Date.now(), 5000);
    expect((await server('w1')).reported_account_ids).to.deep.equal(['acc-1', 'acc-2']);
  });

  describe('bad frames close only the offending socket', () => {
    let bystander: TestAgent;

    beforeEach(async () => {
      bystander = track(await reportingAgent(controller.port, 'w2', { cpu_percent: 5 }));
      await waitFor('w2 healthy', async () => (await row('w2')).healthy);
    });

    /** The bystander still reports and its new figures show. */
    async function bystanderStillWorks(): Promise<void> {
      expect(bystander.open).to.equal(true);
      bystander.report({ cpu_percent: 77 });
      await waitFor('w2 new figures', async () => (await row('w2')).cpu_percent === 77);
      expect(bystander.closeCode).to.equal(null);
    }

    async function expectViolation(send: (a: TestAgent) => void, closeCode: number, errorCode?: string, hello = true): Promise<void> {
      const a = track(await openAgent(controller.port, 'w1'));
      if (hello) await a.hello();
      send(a);
      expect(await a.closed()).to.equal(closeCode);
      if (errorCode) expect(a.received.find((m) => m.type === 'error')).to.deep.include({ type: 'error', code: errorCode });
      expect(controller.hub.isConnected('w1')).to.equal(false);
      await bystanderStillWorks();
    }

    it('malformed JSON → error message and close 1008', () => expectViolation((a) => a.send('{"type":"report",'), 1008, 'MALFORMED_FRAME'));
    it('a frame that is not an object → 1008', () => expectViolation((a) => a.send('42'), 1008, 'INVALID_MESSAGE'));
    it('an unknown message type → 1008', () => expectViolation((a) => a.send({ type: 'welcome', protocol: 1 }), 1008, 'INVALID_MESSAGE'));
    it('cpu_percent 150 → 1008 and the figure is not applied', async () => {
      await expectViolation((a) => a.report({ cpu_percent: 150 }), 1008, 'INVALID_MESSAGE');
      expect((await row('w1')).cpu_percent).to.not.equal(150);
    });
    it('an account id "../x" → 1008', () => expectViolation((a) => a.report({ accounts: ['../x'] }), 1008, 'INVALID_MESSAGE'));
    it('an unknown field → 1008', () => expectViolation((a) => a.report({ extra: 'x' }), 1008, 'INVALID_MESSAGE'));
    it('a report before hello → 1008', () => expectViolation((a) => a.report(), 1008, 'REPORT_BEFORE_HELLO', false));
    it('a second hello → 1008', () => expectViolation((a) => a.send({ type: 'hello', protocol: 1, node_id: 'w1', agent_version: 'x', hostname: 'h', sessions_dir: '/s' }), 1008, 'UNEXPECTED_HELLO'));
    it('a hello naming another node → 1008', () => expectViolation((a) => a.send({ type: 'hello', protocol: 1, node_id: 'w2', agent_version: 'x', hostname: 'h', sessions_dir: '/s' }), 1008, 'NODE_MISMATCH', false));
    it('an unsupported protocol version → 1008', () => expectViolation((a) => a.send({ type: 'hello', protocol: 99, node_id: 'w1', agent_version: 'x', hostname: 'h', sessions_dir: '/s' }), 1008, 'UNSUPPORTED_PROTOCOL', false));
    it('a binary frame → 1008', () => expectViolation((a) => a.send(Buffer.from('{"type":"report"}'), { binary: true }), 1008, 'MALFORMED_FRAME'));
    it('a 70 KiB frame → error FRAME_TOO_LARGE and close 1008', () => expectViolation((a) => a.report({ sent_at: 'x'.repeat(70 * 1024) }), 1008, 'FRAME_TOO_LARGE'));
    it('a frame past the read limit is cut off unread → 1009', async () => {
      await expectViolation((a) => a.report({ sent_at: 'x'.repeat(FRAME_READ_LIMIT_BYTES + 1024) }), 1009);
    });

    it('frames sent after a bad one are ignored', async () => {
      await expectViolation((a) => { a.send('not json'); a.report({ cpu_percent: 99 }); }, 1008, 'MALFORMED_FRAME');
      expect((await row('w1')).cpu_percent).to.not.equal(99);
    });

    it('the controller keeps serving the API after all of it', async () => {
      expect((await api.get('/healthz')).status).to.equal(200);
      await bystanderStillWorks();
    });
  });

  it('a second connection for the same node replaces the first', async () => {
    const first = track(await reportingAgent(controller.port, 'w3', { cpu_percent: 11 }));
    await waitFor('w3 healthy', async () => (await row('w3')).cpu_percent === 11);
    const second = track(await openAgent(controller.port, 'w3'));
    const code = await first.closed();
    expect(code).to.equal(4000);
    await second.hello();
    second.report({ cpu_percent: 22 });
    await waitFor('w3 figures from the second socket', async () => (await row('w3')).cpu_percent === 22);
    expect(second.open).to.equal(true);
    expect(controller.hub.isConnected('w3')).to.equal(true);
  });

  it('pings measure latency_ms', async () => {
    const a = track(await reportingAgent(controller.port, 'w1'));
    const r = await waitFor('a latency', async () => { const x = await row('w1'); return typeof x.latency_ms === 'number' ? x : null; });
    expect(r.latency_ms).to.be.at.least(0).and.below(1000);
    expect(a.open).to.equal(true);
  });

  it('silence → down with growing consecutive_failures → a report brings it back at 0', async () => {
    const a = track(await reportingAgent(controller.port, 'w1', { cpu_percent: 3 }));
    await waitFor('w1 healthy', async () => (await row('w1')).healthy);
    // The socket stays open (pings are answered) but no report comes: down after down_after_ms.
    const down = await waitFor('w1 down', async () => { const x = await row('w1'); return !x.healthy ? x : null; }, 5000);
    expect(down.eligible).to.equal(false);
    expect(down.reasons).to.include('agent not reporting');
    expect(down.consecutive_failures).to.be.at.least(1);
    const later = await waitFor('failures grow', async () => { const x = await row('w1'); return x.consecutive_failures > down.consecutive_failures ? x : null; }, 5000);
    expect(later.healthy).to.equal(false);
    a.report({ cpu_percent: 4 });
    const back = await waitFor('w1 back', async () => { const x = await row('w1'); return x.healthy ? x : null; });
    expect(back).to.include({ consecutive_failures: 0, eligible: true, cpu_percent: 4 });
  });

  it('a closed socket makes the server down', async () => {
    const a = track(await reportingAgent(controller.port, 'w1'));
    await waitFor('w1 healthy', async () => (await row('w1')).healthy);
    a.close();
    await waitFor('w1 down', async () => !(await row('w1')).healthy, 5000);
    expect((await server('w1')).connected).to.equal(false);
  });

  describe('load samples', () => {
    it('are scheduled with node-cron (sampling and pruning)', () => {
      expect(controller.jobs.names()).to.include.members(['sample-load', 'prune-samples']);
    });

    it('are written at most once a minute per reporting server and pruned after 7 days', async () => {
      const a = track(await reportingAgent(controller.port, 'w2', { cpu_percent: 33 }));
      await waitFor('w2 reported', async () => (await row('w2')).cpu_percent === 33);
      const samples = controller.store.samples;
      const sampler = new LoadSampler({ fleet: controller.fleet, samples, weights: () => controller.config.controller.weights });
      // The scheduled job may write samples of its own meanwhile: count only ours.
      const t0 = Date.now();
      const ours = new Set([new Date(t0).toISOString(), new Date(t0 + 30_000).toISOString(), new Date(t0 + 61_000).toISOString()]);
      const mine = async (id: string) => (await samples.listFor(id, new Date(t0 - 1000).toISOString())).filter((r) => ours.has(r.at));
      expect(await sampler.sample(t0)).to.be.at.least(1);
      expect(await mine('w2')).to.have.length(1);
      expect((await mine('w2'))[0]).to.include({ cpu_percent: 33, server_id: 'w2' });
      // Within the minute: nothing more, even after a new report.
      a.report({ cpu_percent: 34 });
      await waitFor('w2 second report', async () => (await row('w2')).cpu_percent === 34);
      expect(await sampler.sample(t0 + 30_000)).to.equal(0);
      expect(await mine('w2')).to.have.length(1);
      // A minute later, with a report since: one more.
      await sampler.sample(t0 + 61_000);
      const rows = await mine('w2');
      expect(rows.map((r) => r.cpu_percent)).to.deep.equal([33, 34]);
      // A server that never reported gets no samples.
      expect(await mine('w4')).to.have.length(0);

      // Pruning deletes rows older than 7 days and keeps the rest.
      const old = new Date(t0 - SAMPLE_RETENTION_MS - 3600_000).toISOString();
      await samples.insert([{ server_id: 'w2', at: old, load_score: 1, cpu_percent: 1, memory_percent: 1, disk_percent: 1, accounts: 0 }]);
      expect((await samples.listFor('w2', old)).filter((r) => r.at === old)).to.have.length(1);
      expect(await sampler.prune(t0)).to.equal(1);
      expect((await samples.listFor('w2', old)).filter((r) => r.at === old)).to.have.length(0);
      expect(await mine('w2')).to.have.length(2);
    });
  });
});
