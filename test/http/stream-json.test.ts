import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Agent, get, type IncomingMessage, type Server } from 'node:http';
import { BUFFER_BUDGET, sendJsonWithArray } from '../../controller/http/stream-json.js';

describe('http: JSON answers written in pieces', () => {
  let server: Server;
  let base: string;
  /** Items of the /live answer: about 18 MB of JSON, more than loopback's socket buffers hold. */
  const BIG = 60_000;
  /** The most bytes the /live handler had waiting in the response at any moment. */
  let buffered = 0;
  let handlerDone = false;
  let stallHandlerDone = false;
  /** The /timeouts answer's socket timer: while it is sent, then after it. */
  const socketTimeouts: number[] = [];
  before(async () => {
    const app = express();
    app.get('/n/:n', (req, res) => {
      const items = Array.from({ length: Number(req.params.n) }, (_, i) => ({ id: `s${i}`, text: 'ü"\\\n' }));
      sendJsonWithArray(res, { generated_at: 'now', weights: { cpu: 0.5 } }, 'servers', items, (it, i) => JSON.stringify({ rank: i + 1, ...it }));
    });
    app.get('/bare', (_req, res) => sendJsonWithArray(res, {}, 'items', [1, 2, 3], (n) => String(n * 2)));
    app.get('/timeouts', async (_req, res) => {
      const socket = res.socket!;
      const writing = sendJsonWithArray(res, {}, 'items', [1, 2, 3], (n) => String(n), { stallTimeoutMs: 300 });
      socketTimeouts.push(socket.timeout ?? 0);
      res.on('finish', () => setImmediate(() => socketTimeouts.push(socket.timeout ?? 0)));
      await writing;
    });
    app.get('/stall', async (_req, res) => {
      const items = Array.from({ length: BIG }, (_, i) => ({ id: `s${i}`, pad: 'x'.repeat(280) }));
      await sendJsonWithArray(res, {}, 'servers', items, (it) => JSON.stringify(it), { stallTimeoutMs: 300 });
      stallHandlerDone = true;
    });
    app.get('/live', async (_req, res) => {
      // Live objects, changed while the answer is being written.
      const live = Array.from({ length: BIG }, (_, i) => ({ id: `s${i}`, cpu: 1, pad: 'x'.repeat(280) }));
      buffered = 0;
      // Sampled until the answer is out, however the writing was done.
      const sampler = setInterval(() => { buffered = Math.max(buffered, res.writableLength); }, 2);
      res.on('close', () => clearInterval(sampler));
      const writing = sendJsonWithArray(res, {}, 'servers', live, (it) => JSON.stringify(it));
      for (const it of live) it.cpu = 99;
      await writing;
      handlerDone = true;
    });
    await new Promise<void>((r) => { server = app.listen(0, '127.0.0.1', () => r()); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const n of [0, 1, 100, 101, 2_345]) {
    it(`${n} items: one valid JSON document equal to the object built whole`, async () => {
      const res = await fetch(`${base}/n/${n}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      const want = {
        generated_at: 'now', weights: { cpu: 0.5 },
        servers: Array.from({ length: n }, (_, i) => ({ rank: i + 1, id: `s${i}`, text: 'ü"\\\n' })),
      };
      const text = await res.text();
      expect(text).to.equal(JSON.stringify(want));
    });
  }

  it('an empty head still gives a valid object', async () => {
    expect(await (await fetch(`${base}/bare`)).json()).to.deep.equal({ items: [2, 4, 6] });
  });

  it('a reader that stalls holds the buffer budget (512 KiB) of the answer in the server, not the answer; the items are one moment\'s', async () => {
    handlerDone = false;
    const text = await new Promise<string>((resolve, reject) => {
      get(`${base}/live`, (res) => {
        res.pause();
        setTimeout(() => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d)).on('end', () => resolve(Buffer.concat(parts).toString())).resume();
        }, 300);
      }).on('error', reject);
    });
    const body = JSON.parse(text) as { servers: { id: string; cpu: number }[] };
    expect(body.servers).to.have.length(BIG);
    expect(body.servers.every((s) => s.cpu === 1), 'rows show the values when the call came, not later changes').to.equal(true);
    expect(text.length).to.be.above(16e6);
    // The budget and at most one piece (100 items of ~300 bytes) past it.
    expect(buffered, 'bytes waiting in the server for the stalled reader').to.be.below(BUFFER_BUDGET + 40_000);
    expect(handlerDone).to.equal(true);
  });

  it('a reader that goes away mid-answer ends the writing', async () => {
    handlerDone = false;
    await new Promise<void>((resolve) => {
      const req = get(`${base}/live`, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => undefined);
    });
    for (let i = 0; i < 200 && !handlerDone; i++) await new Promise((r) => setTimeout(r, 10));
    expect(handlerDone, 'the handler finished after its client left').to.equal(true);
  });

  it('leaves no stall timer on a kept-alive connection once the answer is out', async () => {
    const keepAlive = server.keepAliveTimeout;
    server.keepAliveTimeout = 0; // no keep-alive timer of the server's to replace ours
    try {
      socketTimeouts.length = 0;
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        get(`${base}/timeouts`, { agent }, (res) => res.resume().on('end', () => resolve())).on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 50));
      agent.destroy();
      expect(socketTimeouts, 'the socket timer during the answer, then after it').to.deep.equal([300, 0]);
    } finally {
      server.keepAliveTimeout = keepAlive;
    }
  });

  it('a reader that takes nothing for the stall timeout loses its connection, and the writing ends', async () => {
    stallHandlerDone = false;
    let response: IncomingMessage | undefined;
    const req = get(`${base}/stall`, (res) => {
      response = res;
      res.pause(); // takes nothing
    });
    req.on('error', () => undefined);
    for (let i = 0; i < 300 && !stallHandlerDone; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stallHandlerDone, 'the handler gave up on the stalled reader').to.equal(true);
    // Reading again, the client finds the connection closed before the answer's end.
    const ending = await new Promise<string>((resolve) => {
      response!.on('end', () => resolve('end')).on('error', () => resolve('cut')).on('close', () => resolve('cut')).resume();
    });
    expect(ending).to.equal('cut');
  });
});
