/**
 * The admin API's edge (SPEC §5): authentication and roles, the error shape, every kind
 * of bad input answered with its 4xx code (never a 5xx) and changing nothing, and no
 * secret in any answer or log line.
 */
import { expect } from 'chai';
import type { Controller } from '../../controller/controller.js';
import { ADMIN_TOKEN, Api, ControllerProcess, VIEWER_TOKEN, agentToken, fixtureConfig, removeDir, startController, tempDir, writeConfig } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { connectAgent, reportingAgent } from '../fleet/agent-client.js';
import { rawRequest, type RawAnswer } from './raw-request.js';

/** Asserts the SPEC's error shape with `code` and `status`. */
function expectError(res: { status: number; body: any }, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body).to.have.property('error');
  expect(res.body.error).to.include({ code });
  expect(res.body.error.message).to.be.a('string').and.not.equal('');
  expect(res.body.error.details).to.be.an('object');
}

describe('admin API edge (SPEC §5)', function () {
  let dir: string;
  let controller: Controller;
  let admin: Api;
  let viewer: Api;

  before(async () => {
    dir = tempDir('berth-api-edge-');
    controller = await startController(dir, fixtureConfig(dir, [{ id: 's1' }, { id: 's2', location: 'Tokyo' }], { failover_after_ms: 600_000 }));
    admin = Api.for(controller.port);
    viewer = Api.for(controller.port, VIEWER_TOKEN);
  });

  after(async () => {
    await controller?.stop();
    removeDir(dir);
  });

  describe('authentication and roles', () => {
    it('GET /healthz needs no token and reports db and agents', async () => {
      const res = await Api.for(controller.port, null).get('/healthz');
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: 'ok', database: 'ok', agents_connected: 0, servers: 2 });
    });

    it('a missing token is 401 UNAUTHORIZED', async () => {
      expectError(await Api.for(controller.port, null).get('/servers'), 401, 'UNAUTHORIZED');
      expectError(await rawRequest(controller.port, 'GET', '/api/v1/group-ai/servers', { headers: { authorization: 'Basic abc' } }), 401, 'UNAUTHORIZED');
    });

    it('a wrong token is 401, even on unknown routes and with a bad body', async () => {
      const wrong = Api.for(controller.port, 'wrong-token-0123456789');
      expectError(await wrong.get('/servers'), 401, 'UNAUTHORIZED');
      expectError(await wrong.get('/no/such/route'), 401, 'UNAUTHORIZED');
      expectError(await wrong.call('POST', '/accounts', '{broken'), 401, 'UNAUTHORIZED');
      // An agent token is not an API token.
      expectError(await Api.for(controller.port, agentToken('s1')).get('/servers'), 401, 'UNAUTHORIZED');
    });

    it('a viewer may read but gets 403 FORBIDDEN on every write', async () => {
      expect((await viewer.get('/servers')).status).to.equal(200);
      expect((await viewer.get('/allocation/rankings')).status).to.equal(200);
      expect((await viewer.get('/accounts')).status).to.equal(200);
      expect((await viewer.get('/allocation/history')).status).to.equal(200);
      expectError(await viewer.post('/servers/s1/cordon'), 403, 'FORBIDDEN');
      expectError(await viewer.post('/accounts', { account_id: 'v1', session_base64: 'AAAA' }), 403, 'FORBIDDEN');
      expectError(await viewer.post('/allocation/allocate', { account_id: 'v1' }), 403, 'FORBIDDEN');
      expectError(await viewer.post('/allocation/rebalance', { dry_run: true }), 403, 'FORBIDDEN');
      expectError(await viewer.call('DELETE', '/accounts/v1'), 403, 'FORBIDDEN');
      expectError(await viewer.call('PUT', '/accounts/v1/session', Buffer.from('x'), { 'content-type': 'application/octet-stream' }), 403, 'FORBIDDEN');
      expect((await admin.get('/servers/s1')).body.status).to.equal('active');
    });

    it('an admin may write', async () => {
      const res = await admin.post('/allocation/rebalance', { dry_run: true });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ dry_run: true });
      expect(res.body.migrations).to.deep.equal([]);
    });
  });

  describe('bad input gets its 4xx and changes nothing', () => {
    it('an unknown route is 404 NOT_FOUND in the error shape', async () => {
      expectError(await admin.get('/no/such/route'), 404, 'NOT_FOUND');
      expectError(await admin.call('PATCH', '/servers/s1'), 404, 'NOT_FOUND');
      expectError(await rawRequest(controller.port, 'GET', '/elsewhere'), 404, 'NOT_FOUND');
    });

    it('malformed JSON is 400 INVALID_REQUEST', async () => {
      expectError(await admin.call('POST', '/accounts', '{"account_id": '), 400, 'INVALID_REQUEST');
      expectError(await admin.call('POST', '/allocation/allocate', 'not json at all'), 400, 'INVALID_REQUEST');
    });

    it('a body that is not an object is 400', async () => {
      expectError(await admin.call('POST', '/allocation/allocate', '[1,2,3]'), 400, 'INVALID_REQUEST');
      expectError(await admin.call('POST', '/allocation/allocate', '"text"'), 400, 'INVALID_REQUEST');
      expectError(await admin.call('POST', '/allocation/allocate', 'null'), 400, 'INVALID_REQUEST');
      expectError(await admin.call('POST', '/accounts', 'account_id=x', { 'content-type': 'text/plain' }), 400, 'INVALID_REQUEST');
    });

    it('wrong types are 400 naming the field', async () => {
      const cases: [string, string, unknown, string][] = [
        ['POST', '/allocation/allocate', { account_id: 5 }, 'account_id'],
        ['POST', '/allocation/allocate', { account_id: 'a1', dry_run: 'yes' }, 'dry_run'],
        ['POST', '/allocation/allocate', { account_id: 'a1', strategy: 'fastest' }, 'strategy'],
        ['POST', '/allocation/rebalance', { threshold: 'high' }, 'threshold'],
        ['POST', '/allocation/rebalance', { max_migrations: -1 }, 'max_migrations'],
        ['POST', '/accounts', { account_id: 'a1', script_id: 7 }, 'script_id'],
        ['POST', '/accounts', { account_id: 'a1', session_base64: '***' }, 'session_base64'],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await admin.call(method, path, body);
        expectError(res, 400, 'INVALID_REQUEST');
        expect(res.body.error.message, `${path} ${JSON.stringify(body)}`).to.contain(field);
      }
      for (const [path, field] of [['/allocation/history?limit=abc', 'limit'], ['/allocation/history?limit=501', 'limit'], ['/allocation/rankings?strategy=fastest', 'strategy'], ['/accounts?status=gone', 'status'], ['/allocation/history?allocation_type=x', 'allocation_type']] as const) {
        const res = await admin.get(path);
        expectError(res, 400, 'INVALID_REQUEST');
        expect(res.body.error.message, path).to.contain(field);
      }
    });

    it('unknown fields are 400 naming them', async () => {
      const res = await admin.post('/allocation/allocate', { account_id: 'a1', colour: 'red' });
      expectError(res, 400, 'INVALID_REQUEST');
      expect(JSON.stringify(res.body.error)).to.contain('colour');
      expectError(await admin.post('/allocation/rebalance', { dry: true }), 400, 'INVALID_REQUEST');
      expectError(await admin.get('/allocation/rankings?foo=1'), 400, 'INVALID_REQUEST');
      expectError(await admin.get('/accounts?strategy=x'), 400, 'INVALID_REQUEST');
    });

    it('repeated query parameters are 400', async () => {
      expectError(await admin.get('/allocation/rankings?strategy=location&strategy=affinity'), 400, 'INVALID_REQUEST');
      expectError(await admin.get('/allocation/history?limit=1&limit=2'), 400, 'INVALID_REQUEST');
    });

    it('an oversized body is 413 PAYLOAD_TOO_LARGE', async () => {
      const big = JSON.stringify({ account_id: 'big1', session_base64: 'A'.repeat(15 * 1024 * 1024) });
      expectError(await admin.call('POST', '/accounts', big), 413, 'PAYLOAD_TOO_LARGE');
      const bigSession = Buffer.alloc(10 * 1024 * 1024 + 1, 1);
      expectError(await admin.call('PUT', '/accounts/big1/session', bigSession, { 'content-type': 'application/octet-stream' }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('a bad cursor is 400', async () => {
      for (const path of ['/allocation/history?cursor=not-a-cursor', '/accounts?cursor=%7B%7D', `/allocation/history?cursor=${Buffer.from('"text"').toString('base64url')}`, `/accounts?cursor=${Buffer.from('12').toString('base64url')}`,
        ...['1e309', '-5', '1.5', '""'].map((v) => `/allocation/history?cursor=${Buffer.from(v).toString('base64url')}`), `/accounts?cursor=${Buffer.from('""').toString('base64url')}`]) {
        const res = await admin.get(path);
        expectError(res, 400, 'INVALID_REQUEST');
      }
      // Well-formed cursors are taken.
      expect((await admin.get(`/allocation/history?cursor=${Buffer.from('5').toString('base64url')}`)).status).to.equal(200);
      expect((await admin.get(`/accounts?cursor=${Buffer.from('"abc"').toString('base64url')}`)).status).to.equal(200);
    });

    it('an unknown server is 404 SERVER_NOT_FOUND', async () => {
      expectError(await admin.get('/servers/nope'), 404, 'SERVER_NOT_FOUND');
      expectError(await admin.post('/servers/nope/cordon'), 404, 'SERVER_NOT_FOUND');
      expectError(await admin.post('/servers/nope/uncordon'), 404, 'SERVER_NOT_FOUND');
      expectError(await admin.post('/servers/nope/drain'), 404, 'SERVER_NOT_FOUND');
    });

    it('an unknown account is 404 ACCOUNT_NOT_FOUND', async () => {
      expectError(await admin.get('/accounts/nobody-1'), 404, 'ACCOUNT_NOT_FOUND');
      expectError(await admin.post('/accounts/nobody-1/move', {}), 404, 'ACCOUNT_NOT_FOUND');
      expectError(await admin.call('DELETE', '/accounts/nobody-1'), 404, 'ACCOUNT_NOT_FOUND');
    });

    it('path tricks in ids are 400 or 404, never 5xx', async () => {
      const paths = [
        '/accounts/%2e%2e', '/accounts/..%2F..%2Fetc%2Fpasswd', '/accounts/%2e%2e%2f%2e%2e%2fetc', '/accounts/.hidden',
        '/accounts/a%00b', '/accounts/%ZZ', '/accounts/%2Fetc%2Fpasswd', `/accounts/${'a'.repeat(4000)}`,
        '/accounts/%2e%2e/move', '/servers/%2e%2e', '/servers/..%2F..%2F', '/servers/%ZZ', `/servers/${'s'.repeat(4000)}`,
      ];
      const seen: [string, number][] = [];
      for (const p of paths) {
        for (const method of ['GET', 'POST', 'DELETE', 'PUT']) {
          const res: RawAnswer = await rawRequest(controller.port, method, `/api/v1/group-ai${p}`, { token: ADMIN_TOKEN, body: method === 'GET' ? undefined : method === 'PUT' ? 'bytes' : '{}' });
          seen.push([`${method} ${p.slice(0, 60)}`, res.status]);
          expect(res.status, `${method} ${p.slice(0, 60)}`).to.be.oneOf([400, 404]);
          expect(res.body?.error?.code, `${method} ${p.slice(0, 60)}`).to.be.oneOf(['INVALID_REQUEST', 'NOT_FOUND', 'ACCOUNT_NOT_FOUND', 'SERVER_NOT_FOUND']);
        }
      }
      // The ones that name an account id: explicitly refused as invalid.
      expectError(await rawRequest(controller.port, 'GET', '/api/v1/group-ai/accounts/%2e%2e', { token: ADMIN_TOKEN }), 400, 'INVALID_REQUEST');
      expectError(await rawRequest(controller.port, 'PUT', '/api/v1/group-ai/accounts/..%2Fx/session', { token: ADMIN_TOKEN, body: 'bytes', headers: { 'content-type': 'application/octet-stream' } }), 400, 'INVALID_REQUEST');
    });

    it('a URL too long for the server is refused with a 4xx', async () => {
      const res = await rawRequest(controller.port, 'GET', `/api/v1/group-ai/accounts/${'a'.repeat(64 * 1024)}`, { token: ADMIN_TOKEN });
      expect(res.status).to.be.within(400, 499);
    });

    it('session paths outside the store are refused', async () => {
      for (const session_file of ['../../etc/passwd', '/etc/passwd', 'sessions/../../x.session', 'a/../../b']) {
        const res = await admin.post('/accounts', { account_id: 'trick1', session_file });
        expect(res.status, session_file).to.be.oneOf([400, 404]);
        expect(res.body.error.code).to.be.oneOf(['INVALID_REQUEST', 'SESSION_FILE_NOT_FOUND']);
        const alloc = await admin.post('/allocation/allocate', { account_id: 'trick1', session_file });
        expect(alloc.status, session_file).to.be.oneOf([400, 404]);
      }
    });

    it('ids breaking the account id rules are 400', async () => {
      for (const account_id of ['', '../x', '.hidden', 'a/b', 'a\\b', 'x'.repeat(129), 'a b', 'ä']) {
        expectError(await admin.post('/accounts', { account_id, session_base64: 'AAAA' }), 400, 'INVALID_REQUEST');
        expectError(await admin.post('/allocation/allocate', { account_id }), 400, 'INVALID_REQUEST');
      }
    });

    it('after all of it the controller still serves and nothing changed', async () => {
      expect((await Api.for(controller.port, null).get('/healthz')).body).to.include({ status: 'ok' });
      expect((await admin.get('/accounts')).body).to.deep.equal({ items: [], next_cursor: null });
      expect((await admin.get('/allocation/history')).body).to.deep.equal({ items: [], next_cursor: null });
      const servers = (await admin.get('/servers')).body.servers as { server_id: string; status: string; status_override: unknown }[];
      expect(servers.map((s) => [s.server_id, s.status, s.status_override])).to.deep.equal([['s1', 'active', null], ['s2', 'active', null]]);
    });
  });
});

describe('no secret in any answer or log line', function () {
  const SECRETS = {
    password: 'pw-SECRET-Hunter2-abcdef',
    keyPath: '/tmp/keypath-SECRET-xyz/id_ed25519',
    adminToken: 'admin-SECRET-token-0123456789',
    viewerToken: 'viewer-SECRET-token-0123456789',
    agentA: 'agentA-SECRET-token-0123456789',
    agentB: 'agentB-SECRET-token-0123456789',
    sessionText: 'SESSION-BYTES-SECRET-payload',
  };
  const sessionB64 = Buffer.from(SECRETS.sessionText).toString('base64');
  const all = [...Object.values(SECRETS), sessionB64];

  function secretConfig(dir: string, extra: Record<string, unknown> = {}) {
    const raw = fixtureConfig(dir, [
      { id: 'pw', extra: { password: SECRETS.password, agent_token: SECRETS.agentA } },
      { id: 'key', extra: { private_key_path: SECRETS.keyPath, agent_token: SECRETS.agentB } },
    ], { failover_after_ms: 600_000, down_after_ms: 5000, lease_ms: 5500, upload_timeout_ms: 1500, ...extra }) as { controller: Record<string, unknown> };
    raw.controller.api_tokens = [{ name: 'ops', token: SECRETS.adminToken, role: 'admin' }, { name: 'watch', token: SECRETS.viewerToken, role: 'viewer' }];
    return raw;
  }

  /** The requests a curious or careless client makes; returns every answer's text. */
  async function exercise(port: number): Promise<string[]> {
    const admin = Api.for(port, SECRETS.adminToken);
    const texts: string[] = [];
    const keep = <T extends { text: string }>(r: T): T => { texts.push(r.text); return r; };
    // An agent for each server: one refused (another server's token), one reporting.
    const refused = await connectAgent(port, 'key', SECRETS.agentA);
    expect(refused).to.deep.equal({ refused: 401 });
    const wrong = await connectAgent(port, 'pw', SECRETS.adminToken);
    expect(wrong).to.deep.equal({ refused: 401 });
    const pw = await reportingAgentWithToken(port, 'pw', SECRETS.agentA);
    const key = await reportingAgentWithToken(port, 'key', SECRETS.agentB);
    await waitFor('both servers healthy', async () => {
      const r = await admin.get('/allocation/rankings');
      return (r.body.servers as { healthy: boolean }[]).every((s) => s.healthy);
    });
    keep(await admin.get('/servers'));
    keep(await admin.get('/servers/pw'));
    keep(await admin.get('/servers/key'));
    keep(await admin.get('/allocation/rankings'));
    keep(await admin.get('/allocation/rankings?strategy=location&location=Nowhere'));
    keep(await Api.for(port, null).get('/healthz'));
    keep(await Api.for(port, SECRETS.agentA).get('/servers'));
    keep(await Api.for(port, SECRETS.viewerToken).post('/servers/pw/cordon'));
    keep(await Api.for(port, SECRETS.viewerToken).post('/accounts', { account_id: 'acc-s', session_base64: sessionB64 }));
    keep(await admin.post('/accounts', { account_id: '../x', session_base64: sessionB64 }));
    keep(await admin.call('POST', '/accounts', `{"account_id": "${SECRETS.password}`));
    keep(await admin.get('/servers/nope'));
    keep(await admin.get('/no/route'));
    // A real attempt: SSH to the workers fails (nothing listens), so it ends pending or failed.
    const created = keep(await admin.post('/accounts', { account_id: 'acc-s', session_base64: sessionB64 }));
    expect(created.status).to.be.oneOf([201, 202]);
    keep(await admin.post('/allocation/allocate', { account_id: 'acc-s', server_id: 'key' }));
    keep(await admin.post('/allocation/allocate', { account_id: 'acc-s', server_id: 'pw' }));
    keep(await admin.get('/accounts/acc-s'));
    keep(await admin.get('/accounts'));
    keep(await admin.get('/allocation/history'));
    keep(await admin.get('/metrics'));
    pw.close();
    key.close();
    return texts;
  }

  async function reportingAgentWithToken(port: number, id: string, token: string) {
    const out = await connectAgent(port, id, token);
    if (!('agent' in out)) throw new Error(`refused ${out.refused}`);
    await out.agent.hello();
    out.agent.report({ accounts: [] });
    return out.agent;
  }

  it('answers of an in-process controller carry none', async () => {
    const dir = tempDir('berth-secrets-');
    const controller = await startController(dir, secretConfig(dir));
    try {
      const texts = await exercise(controller.port);
      expect(texts.join('\n')).to.contain('"server_id":"pw"');
      for (const t of texts) for (const s of all) expect(t, `answer leaks ${s}`).to.not.contain(s);
      // sanity: the servers answer says how each authenticates, without the secret
      const pw = (await Api.for(controller.port, SECRETS.adminToken).get('/servers/pw')).body;
      expect(pw.auth).to.equal('password');
    } finally {
      await controller.stop();
      removeDir(dir);
    }
  });

  it('log lines of a controller process at debug level carry none', async () => {
    const dir = tempDir('berth-secrets-proc-');
    const proc = new ControllerProcess(dir, writeConfig(dir, secretConfig(dir, { log_level: 'debug' })));
    try {
      await proc.ready();
      await exercise(proc.port);
      proc.kill('SIGTERM');
      expect(await proc.exited()).to.equal(0);
      const text = proc.lines.join('\n');
      expect(proc.lines.length).to.be.greaterThan(5);
      // The controller did log the events (so the check below looks at real lines).
      expect(text).to.contain('agent upgrade refused');
      expect(text).to.contain('agent welcomed');
      for (const s of all) expect(text, `log leaks ${s}`).to.not.contain(s);
    } finally {
      if (proc.proc.exitCode === null) proc.kill('SIGKILL');
      removeDir(dir);
    }
  });
});
