/**
 * A raw WebSocket agent for service tests: speaks the protocol by hand (hello, reports
 * with chosen figures) and records what the controller sends and how it closes.
 */
import WebSocket from 'ws';
import { AGENT_CONNECT_PATH, NODE_HEADER, PROTOCOL_VERSION, type ControllerMessage } from '../../shared/protocol.js';
import { agentToken } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

/** Figures a raw agent reports. */
export interface Figures {
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  accounts?: string[];
}

/** One raw agent connection. */
export class RawAgent {
  readonly messages: ControllerMessage[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(readonly id: string, readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      try { this.messages.push(JSON.parse(d.toString('utf8')) as ControllerMessage); } catch { /* not JSON */ }
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.stopReporting();
    });
    ws.on('error', () => undefined);
  }

  /** Connects as server `id`, sends hello and waits for welcome. */
  static async connect(base: string, id: string, options: { ca?: string; token?: string } = {}): Promise<RawAgent> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: { authorization: `Bearer ${options.token ?? agentToken(id)}`, [NODE_HEADER]: id },
      ...(options.ca ? { ca: options.ca } : {}),
    });
    const agent = new RawAgent(id, ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    agent.send({ type: 'hello', protocol: PROTOCOL_VERSION, node_id: id, agent_version: 'raw-test', hostname: 'raw', sessions_dir: '/nowhere/sessions' });
    await waitFor(`welcome for ${id}`, () => agent.messages.find((m) => m.type === 'welcome'));
    return agent;
  }

  /** Sends any JSON value (or a raw string) as a text frame. */
  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Sends one report. */
  report(f: Figures): void {
    this.send({
      type: 'report', seq: ++this.seq, sent_at: new Date().toISOString(), load_avg: [0.1, 0.1, 0.1],
      cpu_percent: f.cpu_percent, memory_percent: f.memory_percent, disk_percent: f.disk_percent, accounts: f.accounts ?? [],
    });
  }

  /** Reports now and then every `everyMs` until {@link stopReporting} (or close). */
  reportEvery(everyMs: number, f: () => Figures): void {
    this.stopReporting();
    this.report(f());
    this.timer = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.report(f());
    }, everyMs);
  }

  /** Stops periodic reports (the socket stays open). */
  stopReporting(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves with the close code once the socket is closed. */
  async closed(timeoutMs = 10_000): Promise<number> {
    return waitFor(`socket of ${this.id} to close`, () => this.closeCode ?? undefined, timeoutMs);
  }

  /** Closes the socket (1000) and stops reporting. */
  close(): void {
    this.stopReporting();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}
