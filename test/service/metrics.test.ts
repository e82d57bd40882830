/**
 * GET /metrics (SPEC §5): the Prometheus text an operator scrapes, after real agents'
 * reports, one protocol error, one allocation over real SFTP and one release.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Controller } from '../../controller/controller.js';
import {
  Api, fixtureConfig, removeDir, startController, tempDir,
} from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';
import { RawAgent } from './raw-agent.js';

/** The value of one sample line `name{labels} value` (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('service: GET /metrics', function () {
  this.timeout(30_000);
  let dir: string;
  let sshd: SshdFixture;
  let controller: Controller;
  let api: Api;
  let base: string;
  const agents: RawAgent[] = [];

  before(async () => {
    dir = tempDir('berth-metrics-');
    sshd = await startSshd({ host: '127.0.0.5' });
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w1', sshd }, { id: 'w2', max_accounts: 4 }, { id: 'w3' }]));
    api = Api.for(controller.port);
    base = `http://127.0.0.1:${controller.port}`;
  });

  after(async () => {
    for (const a of agents) a.close();
    await controller?.stop();
    await sshd?.dispose();
    removeDir(dir);
  });

  const scrape = async (): Promise<string> => {
    const res = await api.get('/metrics');
    expect(res.status).to.equal(200);
    return res.text;
  };

  it('needs a token', async () => {
    expect((await Api.for(controller.port, null).get('/metrics')).status).to.equal(401);
  });

  it('shows per-server figures, connections, protocol errors, allocations, moves, uploads and process metrics', async () => {
    const w1 = await RawAgent.connect(base, 'w1');
    const w2 = await RawAgent.connect(base, 'w2');
    agents.push(w1, w2);
    w1.reportEvery(150, () => ({ cpu_percent: 20, memory_percent: 40, disk_percent: 50 }));
    w2.reportEvery(150, () => ({ cpu_percent: 80, memory_percent: 60, disk_percent: 30 }));
    await waitFor('w1 and w2 healthy', () => controller.fleet.get('w1')!.healthy && controller.fleet.get('w2')!.healthy);

    // One protocol error: a frame that is not JSON from a third, otherwise idle agent.
    const bad = await RawAgent.connect(base, 'w3');
    agents.push(bad);
    bad.send('{not json');
    expect(await bad.closed()).to.equal(1008);

    let text = await scrape();
    expect(sample(text, 'berth_server_up', { server_id: 'w1' })).to.equal(1);
    expect(sample(text, 'berth_server_up', { server_id: 'w2' })).to.equal(1);
    expect(sample(text, 'berth_server_up', { server_id: 'w3' })).to.equal(0);
    expect(sample(text, 'berth_server_cpu_percent', { server_id: 'w2' })).to.equal(80);
    expect(sample(text, 'berth_server_memory_percent', { server_id: 'w2' })).to.equal(60);
    expect(sample(text, 'berth_server_disk_percent', { server_id: 'w1' })).to.equal(50);
    expect(sample(text, 'berth_server_accounts', { server_id: 'w1' })).to.equal(0);
    expect(sample(text, 'berth_server_max_accounts', { server_id: 'w2' })).to.equal(4);
    // 0.3·20 + 0.3·40 + 0.3·0 + 0.1·50 = 23; 0.3·80 + 0.3·60 + 0 + 0.1·30 = 45
    expect(sample(text, 'berth_server_load_score', { server_id: 'w1' })).to.be.closeTo(23, 1e-9);
    expect(sample(text, 'berth_server_load_score', { server_id: 'w2' })).to.be.closeTo(45, 1e-9);
    expect(sample(text, 'berth_agents_connected')).to.equal(2);
    expect(sample(text, 'berth_agent_connections_total', { server_id: 'w1' })).to.equal(1);
    expect(sample(text, 'berth_agent_connections_total', { server_id: 'w3' })).to.equal(1);
    expect(sample(text, 'berth_agent_protocol_errors_total', { code: 'MALFORMED_FRAME' })).to.equal(1);
    expect(text).to.match(/^# TYPE berth_controller_process_resident_memory_bytes gauge$/m);
    expect(sample(text, 'berth_controller_nodejs_heap_size_used_bytes')).to.be.greaterThan(0);
    const busy = sample(text, 'berth_controller_event_loop_busy_seconds_total')!;
    const busySince = performance.now();
    expect(busy).to.be.greaterThan(0);

    // An allocation over real SFTP (w1 has the lower score), one that cannot be placed, one release.
    const created = await api.post('/accounts', { account_id: '639000000001', session_base64: Buffer.from('session-bytes').toString('base64') });
    expect(created.status, created.text).to.equal(201);
    expect(created.body.allocation.server_id).to.equal('w1');
    writeFileSync(join(dir, 'sessions', 'upload-639000000002.session'), 'other-session');
    const refused = await api.post('/allocation/allocate', { account_id: '639000000002', session_file: 'sessions/upload-639000000002.session', server_id: 'w3' });
    expect(refused.status, refused.text).to.equal(503);
    text = await scrape();
    // Seconds of busy time, never more than the wall-clock time that passed.
    const busyNow = sample(text, 'berth_controller_event_loop_busy_seconds_total')!;
    expect(busyNow - busy).to.be.within(0.000001, (performance.now() - busySince) / 1000 + 0.01);
    expect(sample(text, 'berth_allocations_total', { type: 'initial', outcome: 'ok' })).to.equal(1);
    expect(sample(text, 'berth_allocations_total', { outcome: 'failed' })).to.equal(1);
    expect(sample(text, 'berth_upload_duration_seconds_count', { outcome: 'ok' })).to.equal(1);
    expect(sample(text, 'berth_upload_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' })).to.equal(1);
    expect(sample(text, 'berth_server_accounts', { server_id: 'w1' })).to.equal(1);
    // 23 + 0.3·(1/10·100) = 26
    expect(sample(text, 'berth_server_load_score', { server_id: 'w1' })).to.be.closeTo(26, 1e-9);

    const released = await api.call('DELETE', '/accounts/639000000001');
    expect(released.status, released.text).to.equal(200);
    text = await scrape();
    expect(sample(text, 'berth_moves_total', { type: 'release', outcome: 'ok' })).to.equal(1);
    expect(sample(text, 'berth_server_accounts', { server_id: 'w1' })).to.equal(0);
    // No secrets in the scrape.
    expect(text).not.to.include('agent-token-');
    expect(text).not.to.include('test-admin-token');
  });
});
