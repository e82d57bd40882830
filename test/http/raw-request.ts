/**
 * An HTTP request sent exactly as written: `fetch` normalises paths (`%2e%2e` becomes
 * `..` and is resolved away), so path tricks must go through `node:http` to reach the
 * controller as an attacker would send them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';

/** The answer of a raw request. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

/**
 * Sends `method path` to 127.0.0.1:`port` with the path untouched. A body goes with a
 * Content-Length, or with `chunked` in three pieces without one.
 */
export function rawRequest(port: number, method: string, path: string, opts: { token?: string | null; body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean } = {}): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    if (!opts.chunked) headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    // The controller may answer (401, 413) before the whole body is sent and drop the rest.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    if (opts.body !== undefined && opts.chunked) {
      const b = Buffer.from(opts.body);
      const step = Math.max(1, Math.ceil(b.length / 3));
      for (let i = 0; i < b.length; i += step) req.write(b.subarray(i, i + step));
      req.end();
    } else if (opts.body !== undefined) {
      req.end(opts.body);
    } else {
      req.end();
    }
  });
}
