/**
 * TLS end to end: the controller serves HTTPS and WSS from `controller.tls`, the real
 * agent process verifies the certificate, trusting a private CA through `ca_file`.
 * Without it, or with another CA, the agent refuses and the server never becomes healthy.
 */
import { expect } from 'chai';
import { request } from 'node:https';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Controller } from '../../controller/controller.js';
import { makeTestCa } from '../agent/helpers.js';
import {
  ADMIN_TOKEN, AgentProcess, fixtureConfig, removeDir, startController, tempDir,
} from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

/** GET over HTTPS trusting `ca`; resolves with status and parsed JSON. */
function httpsGet(url: string, ca: string, token = ADMIN_TOKEN): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
        let body: unknown = null;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const REFUSED = /"reason":"[^"]*(self[- ]signed|unable to (get|verify)|certificate)[^"]*","msg":"controller connection error"/g;

describe('service: TLS between agent and controller', function () {
  this.timeout(30_000);
  let dir: string;
  let pki: ReturnType<typeof makeTestCa>;
  let otherCa: ReturnType<typeof makeTestCa>;
  let controller: Controller;
  let base: string;
  const agents: AgentProcess[] = [];

  before(async () => {
    dir = tempDir('berth-tls-');
    mkdirSync(join(dir, 'pki'));
    mkdirSync(join(dir, 'other'));
    pki = makeTestCa(join(dir, 'pki'));
    otherCa = makeTestCa(join(dir, 'other'));
    controller = await startController(dir, fixtureConfig(dir, [{ id: 'w-ca' }, { id: 'w-none' }, { id: 'w-other' }], {
      tls: { cert_file: join(dir, 'pki', 'server.pem'), key_file: join(dir, 'pki', 'server.key') },
    }));
    base = `https://127.0.0.1:${controller.port}`;
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await controller?.stop();
    removeDir(dir);
  });

  const agent = (id: string, extra: Record<string, unknown>): AgentProcess => {
    const sessions = join(dir, 'workers', id, 'sessions');
    mkdirSync(sessions, { recursive: true });
    const a = new AgentProcess({ port: controller.port, id, sessionsDir: sessions, dir, extra: { controller_url: base, ...extra } });
    agents.push(a);
    return a;
  };

  it('serves the API over HTTPS only', async () => {
    const health = await httpsGet(`${base}/api/v1/group-ai/healthz`, pki.ca);
    expect(health.status).to.equal(200);
    const plain = await fetch(`http://127.0.0.1:${controller.port}/api/v1/group-ai/healthz`).then((r) => r.status, (e: Error) => e);
    expect(plain, 'plain HTTP gets no API answer').to.be.instanceOf(Error);
  });

  it('an agent with ca_file connects over wss and its server turns healthy in the rankings', async () => {
    const a = agent('w-ca', { ca_file: pki.caFile });
    const row = await waitFor('w-ca healthy in rankings', async () => {
      const r = await httpsGet(`${base}/api/v1/group-ai/allocation/rankings`, pki.ca);
      return (r.body.servers as { server_id: string; healthy: boolean; eligible: boolean }[]).find((s) => s.server_id === 'w-ca' && s.healthy);
    }, 15_000);
    expect(row.eligible).to.equal(true);
    expect(a.lines.join('\n')).to.match(/"url":"wss:\/\/127\.0\.0\.1:\d+/);
  });

  it('an agent without ca_file, or trusting another CA, refuses the certificate and never becomes healthy', async () => {
    const none = agent('w-none', {});
    const other = agent('w-other', { ca_file: otherCa.caFile });
    await waitFor('both agents refused twice', () =>
      (none.lines.join('\n').match(REFUSED) ?? []).length >= 2 && (other.lines.join('\n').match(REFUSED) ?? []).length >= 2, 20_000);
    const r = await httpsGet(`${base}/api/v1/group-ai/allocation/rankings`, pki.ca);
    const byId = new Map((r.body.servers as { server_id: string; healthy: boolean; last_report_at: string | null }[]).map((s) => [s.server_id, s]));
    for (const id of ['w-none', 'w-other']) {
      expect(byId.get(id)!.healthy, id).to.equal(false);
      expect(byId.get(id)!.last_report_at, id).to.equal(null);
    }
    expect(controller.hub.connectedCount).to.equal(1);
  });
});
