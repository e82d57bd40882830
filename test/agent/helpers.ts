/**
 * Helpers for the agent's tests: temp dirs, polling, and a small stand-in for the
 * controller's agent endpoint (a real `ws` server speaking the shared protocol).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseAgentMessage } from '../../shared/protocol-schema.js';
import { AGENT_CONNECT_PATH, MAX_FRAME_BYTES, type AgentMessage, type ControllerMessage } from '../../shared/protocol.js';

/** Absolute path of the compiled agent entry point. */
export const AGENT_MAIN = fileURLToPath(new URL('../../agent/main.js', import.meta.url));

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'berth-agent-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export { waitFor } from '../helpers/wait.js';
import { waitFor } from '../helpers/wait.js';

/** One agent connection as the stand-in controller sees it. */
export interface AgentSocket {
  ws: WebSocket;
  headers: IncomingHttpHeaders;
  /** Messages received, parsed with the shared schema (invalid ones recorded as errors). */
  messages: AgentMessage[];
  invalid: string[];
  pings: NodeJS.Timeout | null;
  closed: { code: number; reason: string } | null;
  send(message: ControllerMessage): void;
  /** Pings every `everyMs` as the controller does every report interval. */
  startPinging(everyMs: number): void;
  stopPinging(): void;
}

/** A real WebSocket server on 127.0.0.1 standing in for the controller's agent endpoint. */
export class StandInController {
  readonly server: WebSocketServer;
  readonly sockets: AgentSocket[] = [];
  /** When set, every new connection is pinged at this interval from its start. */
  autoPingMs: number | null = null;

  private readonly https: HttpsServer | null;

  private constructor(server: WebSocketServer, https: HttpsServer | null) {
    this.server = server;
    this.https = https;
  }

  /** Listens on an ephemeral loopback port; with `tls`, over HTTPS (wss). */
  static async start(options: { tls?: { key: string; cert: string } } = {}): Promise<StandInController> {
    let server: WebSocketServer;
    if (options.tls) {
      const https = createHttpsServer({ key: options.tls.key, cert: options.tls.cert });
      await new Promise<void>((resolve, reject) => {
        https.once('error', reject);
        https.listen(0, '127.0.0.1', () => resolve());
      });
      server = new WebSocketServer({ server: https, path: AGENT_CONNECT_PATH, maxPayload: MAX_FRAME_BYTES });
    } else {
      server = await new Promise<WebSocketServer>((resolve, reject) => {
        const s = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_CONNECT_PATH, maxPayload: MAX_FRAME_BYTES });
        s.once('listening', () => resolve(s));
        s.once('error', reject);
      });
    }
    const c = new StandInController(server, options.tls !== undefined ? (server.options.server as HttpsServer) : null);
    server.on('connection', (ws, req) => {
      const sock: AgentSocket = {
        ws,
        headers: req.headers,
        messages: [],
        invalid: [],
        pings: null,
        closed: null,
        send: (m) => ws.send(JSON.stringify(m)),
        startPinging(everyMs) {
          this.stopPinging();
          this.pings = setInterval(() => ws.readyState === ws.OPEN && ws.ping(), everyMs);
        },
        stopPinging() {
          if (this.pings) clearInterval(this.pings);
          this.pings = null;
        },
      };
      ws.on('message', (data: Buffer) => {
        const parsed = parseAgentMessage(data);
        if (parsed.ok) sock.messages.push(parsed.value);
        else sock.invalid.push(parsed.error.message);
      });
      ws.on('close', (code, reason) => {
        sock.stopPinging();
        sock.closed = { code, reason: reason.toString('utf8') };
      });
      if (c.autoPingMs !== null) sock.startPinging(c.autoPingMs);
      c.sockets.push(sock);
    });
    return c;
  }

  /** The base URL an agent's `controller_url` names. */
  get baseUrl(): string {
    const addr = this.https ? this.https.address() : this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('not listening');
    return `${this.https ? 'https' : 'http'}://127.0.0.1:${addr.port}`;
  }

  /** Waits for connection number `index` (0-based) and returns it. */
  connection(index: number, timeoutMs = 8000): Promise<AgentSocket> {
    return waitFor(`agent connection #${index}`, () => this.sockets[index], timeoutMs);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) {
      s.stopPinging();
      s.ws.terminate();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.https) {
      this.https.closeAllConnections();
      await new Promise<void>((resolve) => this.https!.close(() => resolve()));
    }
  }
}

/**
 * A private CA and a server certificate for 127.0.0.1 signed by it, made with the
 * system's `openssl` in `dir`. Returns PEM texts and the CA file's path.
 */
export function makeTestCa(dir: string): { caFile: string; ca: string; key: string; cert: string } {
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=Berth Test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext.cnf', '-out', 'server.pem']);
  const read = (n: string): string => readFileSync(join(dir, n), 'utf8');
  return { caFile: join(dir, 'ca.pem'), ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem') };
}

/** Messages of one type received on `sock`. */
export function messagesOf<T extends AgentMessage['type']>(sock: AgentSocket, type: T): Extract<AgentMessage, { type: T }>[] {
  return sock.messages.filter((m): m is Extract<AgentMessage, { type: T }> => m.type === type);
}

/** Empties the agent's variables so the test machine's environment cannot leak in. */
const CLEAR_BERTH_ENV = { BERTH_CONFIG: '', BERTH_CONTROLLER_URL: '', BERTH_NODE_ID: '', BERTH_AGENT_TOKEN: '', BERTH_SESSIONS_DIR: '' };

/** A spawned agent process with its output collected. */
export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node dist/agent/main.js --config FILE` (plus `nodeArgs` before the script). */
export function spawnAgent(configFile: string, options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; script?: string } = {}): AgentProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script ?? AGENT_MAIN, '--config', configFile], {
    env: { ...process.env, ...CLEAR_BERTH_ENV, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}
