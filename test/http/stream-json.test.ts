import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { sendJsonWithArray } from '../../controller/http/stream-json.js';

describe('http: JSON answers written in pieces', () => {
  let server: Server;
  let base: string;
  before(async () => {
    const app = express();
    app.get('/n/:n', (req, res) => {
      const items = Array.from({ length: Number(req.params.n) }, (_, i) => ({ id: `s${i}`, text: 'ü"\\\n' }));
      sendJsonWithArray(res, { generated_at: 'now', weights: { cpu: 0.5 } }, 'servers', items, (it, i) => JSON.stringify({ rank: i + 1, ...it }));
    });
    app.get('/bare', (_req, res) => sendJsonWithArray(res, {}, 'items', [1, 2, 3], (n) => String(n * 2)));
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
});
