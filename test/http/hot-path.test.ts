/**
 * POST /allocation/allocate has a hot path beside express (controller/http/hot-path.ts).
 * Every request is sent twice to a real controller: to the exact path, which the hot path
 * takes, and with a trailing slash, which only express serves. Both must answer alike:
 * status, content type, length and body, for good and bad requests (tokens, roles, broken and
 * oversized bodies, wrong types, unknown servers, path tricks). A second set checks that
 * requests the hot path leaves to express (other content types, compressed bodies,
 * query strings) are answered as before. Real placements go through the hot path in
 * test/allocation and test/e2e, which post to the exact path.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Controller } from '../../controller/controller.js';
import { ADMIN_TOKEN, VIEWER_TOKEN, fixtureConfig, removeDir, startController, tempDir } from '../helpers/controller-fixture.js';
import { rawRequest } from './raw-request.js';

const PATH = '/api/v1/group-ai/allocation/allocate';

interface Answer {
  status: number;
  type: string | undefined;
  length: string | undefined;
  body: unknown;
}

interface Sent {
  token?: string | null;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the body in pieces without a Content-Length. */
  chunked?: boolean;
}

async function post(port: number, path: string, sent: Sent): Promise<Answer> {
  const r = await rawRequest(port, 'POST', path, {
    token: sent.token === undefined ? ADMIN_TOKEN : sent.token, body: sent.body ?? '', chunked: sent.chunked,
    headers: { 'content-type': 'application/json', ...sent.headers },
  });
  return { status: r.status, type: r.headers['content-type'], length: r.headers['content-length'], body: r.body ?? r.text };
}

describe('POST /allocation/allocate: hot path and express answer alike', function () {
  this.timeout(60_000);
  let dir: string;
  let controller: Controller;

  before(async () => {
    dir = tempDir('berth-hot-path-');
    controller = await startController(dir, fixtureConfig(dir, [{ id: 's1' }, { id: 's2' }], { failover_after_ms: 600_000 }));
    mkdirSync(join(dir, 'sessions', 'incoming'), { recursive: true });
    writeFileSync(join(dir, 'sessions', 'incoming', 'hp-1.session'), 'session bytes');
  });

  after(async () => {
    await controller?.stop();
    removeDir(dir);
  });

  const big = `{"account_id": "a", "pad": "${'x'.repeat(14 * 1024 * 1024)}"}`;
  const cases: [string, Sent, number, string?][] = [
    ['no token', { token: null, body: '{"account_id": "a"}' }, 401, 'UNAUTHORIZED'],
    ['a wrong token', { token: 'wrong-token-0123456789', body: '{"account_id": "a"}' }, 401, 'UNAUTHORIZED'],
    ['a Basic header', { token: null, headers: { authorization: 'Basic abc' }, body: '{}' }, 401, 'UNAUTHORIZED'],
    ['a viewer token', { token: VIEWER_TOKEN, body: '{"account_id": "a"}' }, 403, 'FORBIDDEN'],
    ['broken JSON', { body: '{"account_id": ' }, 400, 'INVALID_REQUEST'],
    ['a JSON string at the top', { body: '"a"' }, 400, 'INVALID_REQUEST'],
    ['only white space', { body: ' \n ' }, 400, 'INVALID_REQUEST'],
    ['a JSON array at the top', { body: '[{"account_id": "a"}]' }, 400, 'INVALID_REQUEST'],
    ['an empty body', { body: '' }, 400, 'INVALID_REQUEST'],
    ['a number for account_id', { body: '{"account_id": 5}' }, 400, 'INVALID_REQUEST'],
    ['an unknown field', { body: '{"account_id": "a", "sneaky": true}' }, 400, 'INVALID_REQUEST'],
    ['an account id with a slash', { body: '{"account_id": "../etc"}' }, 400, 'INVALID_REQUEST'],
    ['a strategy that does not exist', { body: '{"account_id": "a", "strategy": "random"}' }, 400, 'INVALID_REQUEST'],
    ['a session_file outside the store', { body: '{"account_id": "a", "session_file": "../../etc/passwd"}' }, 400],
    ['a session_file that is missing', { body: '{"account_id": "a", "session_file": "incoming/none.session"}' }, 404, 'SESSION_FILE_NOT_FOUND'],
    ['an unknown server', { body: '{"account_id": "a", "server_id": "s9"}' }, 404, 'SERVER_NOT_FOUND'],
    ['a dry run with no server reporting', { body: '{"account_id": "hp-1", "session_file": "incoming/hp-1.session", "dry_run": true}' }, 503, 'NO_ELIGIBLE_SERVER'],
    ['a byte-order mark before the JSON', { body: '\ufeff{"account_id": "a", "server_id": "s9"}' }, 404, 'SERVER_NOT_FOUND'],
    ['a chunked body', { body: '{"account_id": "a", "server_id": "s9"}', chunked: true }, 404, 'SERVER_NOT_FOUND'],
    ['charset=utf-8', { body: '{"account_id": 5}', headers: { 'content-type': 'application/json; charset=utf-8' } }, 400, 'INVALID_REQUEST'],
    ['Content-Encoding: identity', { body: '{"account_id": "a", "server_id": "s9"}', headers: { 'content-encoding': 'identity' } }, 404, 'SERVER_NOT_FOUND'],
    ['a body over 14 MiB', { body: big }, 413, 'PAYLOAD_TOO_LARGE'],
    ['a chunked body over 14 MiB', { body: big, chunked: true }, 413, 'PAYLOAD_TOO_LARGE'],
  ];

  for (const [name, sent, status, code] of cases) {
    it(`${name} → ${status}${code ? ` ${code}` : ''}`, async () => {
      const hot = await post(controller.port, PATH, sent);
      const viaExpress = await post(controller.port, `${PATH}/`, sent);
      expect(hot.status).to.equal(status);
      if (code) expect((hot.body as { error: { code: string } }).error.code).to.equal(code);
      expect(hot.type).to.equal('application/json; charset=utf-8');
      expect(hot).to.deep.equal(viaExpress);
    });
  }

  it('a content type ending in a no-break space byte is left to express, as body-parser refuses it', async () => {
    const raw = async (path: string): Promise<string> => {
      const body = Buffer.from('{"account_id": "a", "server_id": "s9"}');
      const head = Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: ${body.length}\r\nConnection: close\r\nContent-Type: application/json`, 'latin1');
      const socket = connect(controller.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.end(Buffer.concat([head, Buffer.from([0xa0]), Buffer.from('\r\n\r\n'), body]));
      await once(socket, 'close');
      const text = Buffer.concat(chunks).toString('latin1');
      return `${text.split('\r\n')[0]} ${text.slice(text.indexOf('\r\n\r\n') + 4)}`;
    };
    const hot = await raw(PATH);
    expect(hot).to.match(/^HTTP\/1\.1 400 .*request body must be a JSON object/);
    expect(hot).to.equal(await raw(`${PATH}/`));
  });

  describe('requests left to express', () => {
    it('a text/plain body is not read as JSON (400, as before)', async () => {
      const r = await post(controller.port, PATH, { body: '{"account_id": "a", "server_id": "s9"}', headers: { 'content-type': 'text/plain' } });
      expect(r.status).to.equal(400);
      expect(r.body).to.deep.equal({ error: { code: 'INVALID_REQUEST', message: 'request body must be a JSON object', details: {} } });
    });

    it('a gzip body and application/merge-patch+json are read by express', async () => {
      const body = '{"account_id": "a", "server_id": "s9"}';
      const gz = await post(controller.port, PATH, { body: gzipSync(body), headers: { 'content-encoding': 'gzip' } });
      expect(gz.status).to.equal(404);
      const merge = await post(controller.port, PATH, { body, headers: { 'content-type': 'application/merge-patch+json' } });
      expect(merge.status).to.equal(404);
    });

    it('a query string and another letter case reach the same route', async () => {
      const body = '{"account_id": "a", "server_id": "s9"}';
      expect((await post(controller.port, `${PATH}?x=1`, { body })).status).to.equal(404);
      expect((await post(controller.port, PATH.toUpperCase().replace('/API/V1/GROUP-AI', '/api/v1/group-ai'), { body })).status).to.equal(404);
    });

    it('GET on the path is not a route (404 NOT_FOUND)', async () => {
      expect((await rawRequest(controller.port, 'GET', PATH, { token: ADMIN_TOKEN })).status).to.equal(404);
    });
  });
});
