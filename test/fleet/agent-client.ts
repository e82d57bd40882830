/**
 * A raw WebSocket client speaking the agent protocol by hand, so tests can send what a
 * real agent never would (bad tokens, malformed, oversized or out-of-order frames) and
 * see exactly what the controller answers.
 */
import { WebSocket, type RawData } from 'ws';
import { AGENT_CONNECT_PATH, NODE_HEADER, PROTOCOL_VERSION, type ControllerMessage, type HelloMessage, type ReportMessage } from '../../shared/protocol.js';
import { agentToken } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

/** How an upgrade attempt ended: refused with an HTTP status, or an open test agent. */
export type ConnectOutcome = { refused: number } | { agent: TestAgent };

/** Figures of a report; anything left out gets a harmless default. */
export type ReportFields = Partial<Omit<ReportMessage, 'type'>> & Record<string, unknown>;

/** One raw agent connection. */
export class TestAgent {
  readonly received: ControllerMessage[] = [];
  readonly rawFrames: string[] = [];
  closeCode: number | null = null;
  private seq = 0;
  private readonly closedPromise: Promise<number>;

  constructor(readonly ws: WebSocket, readonly nodeId: string) {
    ws.on('message', (data: RawData) => {
      const text = data.toString();
      this.rawFrames.push(text);
      try { this.received.push(JSON.parse(text) as ControllerMessage); } catch { /* kept raw */ }
    });
    this.closedPromise = new Promise((resolve) => ws.on('close', (code) => {
      this.closeCode = code;
      resolve(code);
    }));
    ws.on('error', () => undefined);
  }

  /** True while the socket is open. */
  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close code once the controller (or we) closed the socket. */
  closed(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closedPromise,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`socket of ${this.nodeId} did not close`)), timeoutMs).unref()),
    ]);
  }

  /** Waits for the first message of `type` received after `after` messages. */
  async next<T extends ControllerMessage['type']>(type: T, after = 0): Promise<Extract<ControllerMessage, { type: T }>> {
    const found = await waitFor(`${type} for ${this.nodeId}`, () => this.received.slice(after).find((m) => m.type === type), 5000);
    return found as Extract<ControllerMessage, { type: T }>;
  }

  /** Sends any JSON value (or a raw string / buffer). */
  send(frame: unknown, opts: { binary?: boolean } = {}): void {
    const payload = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    this.ws.send(payload, { binary: opts.binary ?? false });
  }

  /** Sends hello and waits for welcome. */
  async hello(overrides: Partial<HelloMessage> = {}): Promise<Extract<ControllerMessage, { type: 'welcome' }>> {
    const before = this.received.length;
    this.send({
      type: 'hello', protocol: PROTOCOL_VERSION, node_id: this.nodeId, agent_version: 'test-0.0.0',
      hostname: `host-${this.nodeId}`, sessions_dir: `/srv/${this.nodeId}/sessions`, ...overrides,
    } satisfies HelloMessage);
    return this.next('welcome', before);
  }

  /** Sends a report with the given figures. */
  report(fields: ReportFields = {}): void {
    this.send({
      type: 'report', seq: this.seq++, sent_at: new Date().toISOString(), cpu_percent: 10, memory_percent: 20,
      disk_percent: 30, load_avg: [0.1, 0.2, 0.3], accounts: [], ...fields,
    });
  }

  /** Closes from our side. */
  close(): void {
    this.ws.close(1000);
  }
}

/** Opens an agent socket with the given credentials; null header/token are left out. */
export function connectAgent(port: number, nodeId: string | null, token: string | null = nodeId ? agentToken(nodeId) : null): Promise<ConnectOutcome> {
  const headers: Record<string, string> = {};
  if (nodeId !== null) headers[NODE_HEADER] = nodeId;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}${AGENT_CONNECT_PATH}`, { headers, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => resolve({ agent: new TestAgent(ws, nodeId ?? '') }));
    ws.once('error', (e) => reject(e));
  });
}

/** Opens an agent socket that must be accepted. */
export async function openAgent(port: number, nodeId: string, token = agentToken(nodeId)): Promise<TestAgent> {
  const out = await connectAgent(port, nodeId, token);
  if (!('agent' in out)) throw new Error(`upgrade for ${nodeId} refused with ${out.refused}`);
  return out.agent;
}

/** Opens, says hello and sends a first report: a server that is up with these figures. */
export async function reportingAgent(port: number, nodeId: string, fields: ReportFields = {}): Promise<TestAgent> {
  const a = await openAgent(port, nodeId);
  await a.hello();
  a.report(fields);
  return a;
}
