/**
 * A stand-in agent for allocation tests: a raw `ws` client that authenticates with the
 * server's agent token, says hello and reports figures the test chooses, so every load
 * score is exact. It records the `welcome` and `assign` messages it receives.
 */
import { WebSocket } from 'ws';
import { AGENT_CONNECT_PATH, NODE_HEADER, PROTOCOL_VERSION, type ControllerMessage } from '../../shared/protocol.js';
import { agentToken } from '../helpers/controller-fixture.js';
import { waitFor } from '../helpers/wait.js';

/** Load figures a fake agent reports. */
export interface FakeFigures {
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  /** Ids reported as present. @defaultValue [] */
  accounts?: string[];
}

/** Options of {@link FakeAgent.connect}. */
export interface FakeAgentOptions {
  port: number;
  id: string;
  figures: FakeFigures;
  /** How often to report. @defaultValue 150 */
  everyMs?: number;
  /** Token to present. @defaultValue the fixture's agent token of `id` */
  token?: string;
}

/** A connected fake agent. */
export class FakeAgent {
  /** Every `assign` list received, in order. */
  readonly assigns: string[][] = [];
  /** The `assigned` list of the `welcome`, once received. */
  welcomed: string[] | null = null;
  figures: FakeFigures;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(readonly id: string, private readonly ws: WebSocket, figures: FakeFigures) {
    this.figures = figures;
  }

  /** Connects, says hello, waits for `welcome`, then reports every `everyMs`. */
  static async connect(o: FakeAgentOptions): Promise<FakeAgent> {
    const ws = new WebSocket(`ws://127.0.0.1:${o.port}${AGENT_CONNECT_PATH}`, {
      headers: { authorization: `Bearer ${o.token ?? agentToken(o.id)}`, [NODE_HEADER]: o.id },
    });
    const agent = new FakeAgent(o.id, ws, o.figures);
    ws.on('message', (data) => agent.onMessage(JSON.parse(String(data)) as ControllerMessage));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, node_id: o.id, agent_version: 'fake-1', hostname: `fake-${o.id}`, sessions_dir: '/fake' }));
    await waitFor(`welcome of ${o.id}`, () => agent.welcomed !== null, 5000);
    agent.report();
    agent.timer = setInterval(() => agent.report(), o.everyMs ?? 150);
    return agent;
  }

  private onMessage(msg: ControllerMessage): void {
    if (msg.type === 'welcome') this.welcomed = msg.assigned;
    else if (msg.type === 'assign') this.assigns.push(msg.assigned);
  }

  /** The latest assignment the controller told this agent (welcome, then assigns). */
  get assigned(): string[] | null {
    return this.assigns.length > 0 ? this.assigns[this.assigns.length - 1]! : this.welcomed;
  }

  /** Sends one report with the current figures. */
  report(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const f = this.figures;
    this.ws.send(JSON.stringify({
      type: 'report', seq: this.seq++, sent_at: new Date().toISOString(),
      cpu_percent: f.cpu_percent, memory_percent: f.memory_percent, disk_percent: f.disk_percent,
      load_avg: [0, 0, 0], accounts: f.accounts ?? [],
    }));
  }

  /** Changes the reported figures and reports them at once. */
  setFigures(f: FakeFigures): void {
    this.figures = f;
    this.report();
  }

  /** Stops reporting and closes the socket. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
      setTimeout(() => { this.ws.terminate(); resolve(); }, 1000).unref();
    });
  }
}
