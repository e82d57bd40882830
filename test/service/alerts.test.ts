/**
 * Alerts (SPEC §9) delivered to a real HTTP receiver: from a running controller
 * (server_down / server_up, server_overloaded, allocation_failed, the `events` filter,
 * the 5-minute repeat rule) and from the Alerts component itself (retries with backoff,
 * refusals, secrets blanked).
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_EVENTS, Alerts, overloadReason, OVERLOAD_DISK_PERCENT, OVERLOAD_SCORE } from '../../controller/alerts.js';
import type { Controller } from '../../controller/controller.js';
import { silentLogger } from '../../shared/log.js';
import {
  ADMIN_TOKEN, agentToken, Api, fixtureConfig, removeDir, startController, tempDir, VIEWER_TOKEN,
} from '../helpers/controller-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { RawAgent } from './raw-agent.js';
import { WebhookReceiver } from './webhook-receiver.js';

const PAYLOAD_KEYS = ['event', 'severity', 'server_id', 'account_id', 'message', 'at'];

function expectShape(alert: Record<string, unknown>): void {
  for (const key of Object.keys(alert)) expect(PAYLOAD_KEYS, `unexpected key ${key}`).to.include(key);
  expect(ALERT_EVENTS).to.include(alert.event);
  expect(['info', 'warning', 'critical']).to.include(alert.severity);
  expect(alert.message).to.be.a('string').and.not.equal('');
  expect(new Date(String(alert.at)).toISOString()).to.equal(alert.at);
}

describe('service: alerts from a running controller', function () {
  this.timeout(30_000);
  let dir: string;
  let receiver: WebhookReceiver;
  let controller: Controller;
  let api: Api;
  let base: string;
  const agents: RawAgent[] = [];
  const PASSWORD = 'hunter2-worker-password';

  before(async () => {
    dir = tempDir('berth-alerts-');
    receiver = await WebhookReceiver.start();
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w1', extra: { password: PASSWORD } }, { id: 'w2' }], {
      alerts: { webhooks: [{ url: receiver.url('/all') }, { url: receiver.url('/down-only'), events: ['server_down'] }] },
    }));
    api = Api.for(controller.port);
    base = `http://127.0.0.1:${controller.port}`;
  });

  after(async () => {
    for (const a of agents) a.close();
    await controller?.stop();
    await receiver?.close();
    removeDir(dir);
  });

  const events = (path: string) => receiver.accepted(path).map((a) => `${String(a.event)}:${String(a.server_id ?? a.account_id)}`);
  const suppressed = async (event: string): Promise<number> => {
    const text = (await api.get('/metrics')).text;
    const m = new RegExp(`^berth_alerts_total\\{event="${event}",outcome="suppressed"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('sends server_down when an agent goes silent and server_up when it reports again; filters by events', async () => {
    const w1 = await RawAgent.connect(base, 'w1');
    agents.push(w1);
    const normal = () => ({ cpu_percent: 10, memory_percent: 10, disk_percent: 10 });
    w1.reportEvery(150, normal);
    await waitFor('w1 healthy', () => controller.fleet.get('w1')!.healthy);
    expect(events('/all'), 'no server_up at first contact').to.deep.equal([]);

    w1.stopReporting();
    await waitFor('server_down alert', () => events('/all').length >= 1, 10_000);
    w1.reportEvery(150, normal);
    await waitFor('server_up alert', () => events('/all').length >= 2, 10_000);
    expect(events('/all')).to.deep.equal(['server_down:w1', 'server_up:w1']);
    await waitFor('filtered receiver got server_down', () => receiver.accepted('/down-only').length >= 1);
    expect(events('/down-only')).to.deep.equal(['server_down:w1']);

    const [down, up] = receiver.accepted('/all');
    expectShape(down!);
    expectShape(up!);
    expect(down).to.include({ event: 'server_down', severity: 'critical', server_id: 'w1' });
    expect(up).to.include({ event: 'server_up', severity: 'info', server_id: 'w1' });
    expect(receiver.at('/all')[0]!.headers['content-type']).to.equal('application/json');
  });

  it('suppresses the same event for the same server within 5 minutes', async () => {
    const w1 = agents[0]!;
    w1.stopReporting();
    await waitFor('second server_down suppressed', async () => (await suppressed('server_down')) === 1, 10_000);
    expect(controller.fleet.get('w1')!.healthy).to.equal(false);
    expect(events('/all').filter((e) => e.startsWith('server_down'))).to.deep.equal(['server_down:w1']);
    expect(events('/down-only')).to.deep.equal(['server_down:w1']);
    w1.reportEvery(150, () => ({ cpu_percent: 10, memory_percent: 10, disk_percent: 10 }));
    await waitFor('second server_up suppressed', async () => (await suppressed('server_up')) === 1, 10_000);
    expect(events('/all')).to.deep.equal(['server_down:w1', 'server_up:w1']);
  });

  it(`sends server_overloaded once when disk reaches ${OVERLOAD_DISK_PERCENT} %`, async () => {
    const w2 = await RawAgent.connect(base, 'w2');
    agents.push(w2);
    w2.reportEvery(100, () => ({ cpu_percent: 20, memory_percent: 20, disk_percent: 97 }));
    await waitFor('server_overloaded', () => events('/all').includes('server_overloaded:w2'));
    // Further reports over the threshold do not repeat it.
    const seq = controller.fleet.get('w2')!.last_report_at!;
    await waitFor('three more reports', () => controller.fleet.get('w2')!.last_report_at! >= seq + 300);
    const alert = receiver.accepted('/all').filter((a) => a.event === 'server_overloaded');
    expect(alert).to.have.length(1);
    expectShape(alert[0]!);
    expect(alert[0]).to.include({ severity: 'warning', server_id: 'w2' });
    expect(alert[0]!.message).to.match(/disk 97\.0 % >= 95 %/);
    expect(await suppressed('server_overloaded')).to.equal(0);
    expect(events('/down-only')).to.deep.equal(['server_down:w1']);
  });

  it('sends allocation_failed with the account id and no server', async () => {
    writeFileSync(join(dir, 'sessions', 'upload-639111.session'), 'bytes');
    const res = await api.post('/allocation/allocate', { account_id: '639111', session_file: 'sessions/upload-639111.session', location: 'Nowhere', strategy: 'location', strict: true });
    expect(res.status).to.equal(503);
    await waitFor('allocation_failed', () => receiver.accepted('/all').find((a) => a.event === 'allocation_failed'));
    const alert = receiver.accepted('/all').find((a) => a.event === 'allocation_failed')!;
    expectShape(alert);
    expect(alert).to.include({ account_id: '639111', severity: 'warning' });
    expect(alert).not.to.have.property('server_id');
  });

  it('puts no secret in any payload', () => {
    const all = receiver.received.map((r) => r.raw).join('\n');
    expect(all.length).to.be.greaterThan(0);
    for (const secret of [ADMIN_TOKEN, VIEWER_TOKEN, agentToken('w1'), agentToken('w2'), PASSWORD]) expect(all).not.to.include(secret);
  });
});

describe('service: alert delivery (Alerts against a real receiver)', function () {
  this.timeout(20_000);
  let receiver: WebhookReceiver;
  const deliveries: boolean[] = [];
  const make = (url: string, extra: Partial<ConstructorParameters<typeof Alerts>[0]> = {}) => new Alerts({
    webhooks: () => [{ url, events: null }], logger: silentLogger(), backoffMs: 40, attempts: 4,
    onDelivery: (ok) => deliveries.push(ok), ...extra,
  });

  before(async () => {
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await receiver.close();
  });
  beforeEach(() => {
    deliveries.length = 0;
  });

  it('retries with backoff until the receiver accepts (fails twice, then succeeds)', async () => {
    receiver.failFirst('/flaky', 2);
    const alerts = make(receiver.url('/flaky'));
    expect(alerts.emit({ event: 'failover', severity: 'critical', server_id: 'w9', message: 'server w9 down' })).to.equal(true);
    await waitFor('accepted', () => receiver.accepted('/flaky').length === 1);
    const tries = receiver.at('/flaky');
    expect(tries.map((t) => t.status)).to.deep.equal([500, 500, 200]);
    expect(new Set(tries.map((t) => t.raw)).size, 'the same payload each time').to.equal(1);
    await waitFor('delivery outcome', () => deliveries.length === 1);
    expect(deliveries).to.deep.equal([true]);
    await alerts.close();
  });

  it('gives up after the configured attempts, and does not retry a 4xx refusal', async () => {
    receiver.failFirst('/broken', 100, 503);
    receiver.failFirst('/gone', 100, 410);
    const broken = make(receiver.url('/broken'), { attempts: 3 });
    const gone = make(receiver.url('/gone'));
    broken.emit({ event: 'drift', severity: 'warning', server_id: 'w1', message: 'drift' });
    gone.emit({ event: 'drift', severity: 'warning', server_id: 'w1', message: 'drift' });
    await waitFor('both given up', () => deliveries.length === 2);
    expect(deliveries).to.deep.equal([false, false]);
    expect(receiver.at('/broken')).to.have.length(3);
    expect(receiver.at('/gone')).to.have.length(1);
    await broken.close();
    await gone.close();
  });

  it('sends an event once per server within the window; other servers and events pass; sends again after it', async () => {
    const alerts = make(receiver.url('/dedupe'), { dedupeMs: 300 });
    expect(alerts.emit({ event: 'server_down', severity: 'critical', server_id: 'a', message: 'a down' })).to.equal(true);
    expect(alerts.emit({ event: 'server_down', severity: 'critical', server_id: 'a', message: 'a down again' })).to.equal(false);
    expect(alerts.emit({ event: 'server_down', severity: 'critical', server_id: 'b', message: 'b down' })).to.equal(true);
    expect(alerts.emit({ event: 'drift', severity: 'warning', server_id: 'a', message: 'a drift' })).to.equal(true);
    await waitFor('three alerts', () => receiver.accepted('/dedupe').length === 3);
    await sleep(350);
    expect(alerts.emit({ event: 'server_down', severity: 'critical', server_id: 'a', message: 'a down later' })).to.equal(true);
    await waitFor('four alerts', () => receiver.accepted('/dedupe').length === 4);
    expect(receiver.accepted('/dedupe').map((a) => a.message)).to.have.members(['a down', 'b down', 'a drift', 'a down later']);
    await alerts.close();
  });

  it('blanks secret values out of messages', async () => {
    const alerts = make(receiver.url('/secret'), { secrets: () => ['s3cret-token-value', null] });
    alerts.emit({ event: 'allocation_failed', severity: 'warning', account_id: 'acc', message: 'upload failed: auth s3cret-token-value refused' });
    await waitFor('alert', () => receiver.accepted('/secret').length === 1);
    expect(receiver.at('/secret')[0]!.raw).not.to.include('s3cret-token-value');
    expect(receiver.accepted('/secret')[0]!.message).to.equal('upload failed: auth [redacted] refused');
    await alerts.close();
  });

  it('blanks every occurrence of each of thousands of secrets, the longer one first when one contains another', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `agent-token-${String(i).padStart(6, '0')}-xyz`);
    const list = [...many, 'pass', 'pass-word-long', null, 'abc'];
    const alerts = make(receiver.url('/secrets'), { secrets: () => list });
    alerts.emit({
      event: 'allocation_failed', severity: 'warning', account_id: 'acc',
      message: 'a agent-token-004321-xyz b pass-word-long c pass d agent-token-004321-xyz e abc',
    });
    await waitFor('alert', () => receiver.accepted('/secrets').length === 1);
    // 'abc' is shorter than 4 characters: too short to be treated as a secret.
    expect(receiver.accepted('/secrets')[0]!.message).to.equal('a [redacted] b [redacted] c [redacted] d [redacted] e abc');
    await alerts.close();
  });

  it('never scans its own replacement: a secret that is part of "[redacted]" is blanked once and the scrub ends', async () => {
    const alerts = make(receiver.url('/inner'), { secrets: () => ['dact', 'cted', 'redacted'] });
    alerts.emit({ event: 'allocation_failed', severity: 'warning', account_id: 'acc', message: 'pw dact here; w1 disconnected' });
    await waitFor('alert', () => receiver.accepted('/inner').length === 1);
    expect(receiver.accepted('/inner')[0]!.message).to.equal('pw [redacted] here; w1 disconne[redacted]');
    await alerts.close();
  });

  it('calls a server overloaded at load score >= 90 or disk >= 95 %', () => {
    const table: { name: string; score: number; disk: number; want: RegExp | null }[] = [
      { name: 'calm', score: 50, disk: 50, want: null },
      { name: 'just under both', score: OVERLOAD_SCORE - 0.01, disk: OVERLOAD_DISK_PERCENT - 0.01, want: null },
      { name: 'score at the threshold', score: 90, disk: 10, want: /^load score 90\.0 >= 90$/ },
      { name: 'disk at the threshold', score: 20, disk: 95, want: /^disk 95\.0 % >= 95 %$/ },
      { name: 'both', score: 99, disk: 99, want: /load score 99\.0 >= 90, disk 99\.0 % >= 95 %/ },
    ];
    for (const t of table) {
      const got = overloadReason(t.score, t.disk);
      if (t.want === null) expect(got, t.name).to.equal(null);
      else expect(got, t.name).to.match(t.want);
    }
  });
});
