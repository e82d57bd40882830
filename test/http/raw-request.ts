/**
 * An HTTP request sent exactly as written: `fetch` normalises paths (`%2e%2e` becomes
 * `..` and is resolved away), so path tricks must go through `node:http` to reach the
 * controller as an attacker would send them.
 */
import { request } from 'node:http';

/** The answer of a raw request. */
export interface RawAnswer {
  status: number;
  text: string;
  body: any;
}

/** Sends `method path` to 127.0.0.1:`port` with the path untouched. */
export function rawRequest(port: number, method: string, path: string, opts: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, text, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}
