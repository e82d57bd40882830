/** A real HTTP webhook receiver on 127.0.0.1 that records what it is sent. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface Received {
  path: string;
  /** The status it answered with. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: Record<string, unknown>;
}

/** Records POSTs per path; `failFirst(path, n)` makes the first n requests to a path fail with 500. */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly failures = new Map<string, { remaining: number; status: number }>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let self: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const fail = self!.failures.get(path);
        let status = 200;
        if (fail && fail.remaining > 0) {
          fail.remaining--;
          status = fail.status;
        }
        let body: Record<string, unknown> = {};
        try { body = JSON.parse(raw) as Record<string, unknown>; } catch { /* recorded raw */ }
        self!.received.push({ path, status, headers: req.headers, raw, body });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
      });
    });
    self = new WebhookReceiver(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return self;
  }

  /** URL of `path` on this receiver. */
  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Makes the next `n` requests to `path` answer `status` (default 500). */
  failFirst(path: string, n: number, status = 500): void {
    this.failures.set(path, { remaining: n, status });
  }

  /** Requests to `path` (all statuses), in arrival order. */
  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Accepted alerts to `path` (status 200), in arrival order. */
  accepted(path: string): Record<string, unknown>[] {
    return this.at(path).filter((r) => r.status === 200).map((r) => r.body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
