/**
 * The load generator's HTTP client: `node:http` over a keep-alive agent, one socket per
 * request in flight. `fetch` (undici) costs about a millisecond of CPU per request on
 * this machine, on the same two cores as the system under test; this client costs a
 * fraction of that, so the benchmark measures the controller rather than its client.
 */
import { Agent, request } from 'node:http';
import { ADMIN_TOKEN } from '../../test/helpers/controller-fixture.js';

/** An answer: status and raw text. */
export interface LoadAnswer {
  status: number;
  text: string;
}

/** Keep-alive JSON client for one controller. */
export class LoadClient {
  readonly #agent: Agent;
  readonly #port: number;
  readonly #auth: string;

  constructor(port: number, sockets: number, token: string = ADMIN_TOKEN) {
    this.#port = port;
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
    this.#auth = `Bearer ${token}`;
  }

  /** Sends a request to `/api/v1/group-ai<path>` with an optional JSON body. */
  async call(method: string, path: string, body?: unknown): Promise<LoadAnswer> {
    const r = await this.callRaw(method, path, body);
    return { status: r.status, text: r.bytes.toString('utf8') };
  }

  /**
   * As {@link call}, the answer's bytes left as they came: decoding a rankings answer of
   * 1.6 MB into a string and searching it costs the poller 1.7 ms, searching the bytes
   * 0.3 ms (measured here).
   */
  callRaw(method: string, path: string, body?: unknown): Promise<{ status: number; bytes: Buffer }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: this.#port, method, path: `/api/v1/group-ai${path}`, agent: this.#agent,
        headers: {
          authorization: this.#auth,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes the idle sockets. */
  close(): void {
    this.#agent.destroy();
  }
}
