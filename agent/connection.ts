/**
 * The agent's WebSocket to the controller (SPEC §6): `hello` on open, a `report` at once
 * after `welcome` and then every `report_interval_ms`, reconnects with exponential
 * backoff and full jitter, and the lease: when nothing at all (message or ping) has been
 * heard from the controller for `lease_ms`, the agent must self-fence.
 *
 * This file moves frames and keeps time; what a `welcome`, an `assign` or an expired
 * lease means for the session directory is decided by the {@link ConnectionHandlers}.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import type { LineLogger } from '../shared/line-logger.js';
import { parseControllerMessage } from '../shared/protocol-schema.js';
import {
  MAX_FRAME_BYTES, NODE_HEADER, PROTOCOL_VERSION,
  type AgentMessage, type AssignMessage, type HelloMessage, type ReportMessage, type WelcomeMessage,
} from '../shared/protocol.js';

/** First reconnect window, in ms. */
export const BACKOFF_BASE_MS = 500;
/** Largest reconnect delay, in ms. */
export const BACKOFF_CAP_MS = 30_000;
/** Smallest reconnect delay, in ms, so a refusing controller is never hammered. */
export const BACKOFF_FLOOR_MS = 100;

/**
 * Delay before reconnect attempt `attempt` (0 = first after a drop): full jitter,
 * `random(0, min(30 s, 0.5 s · 2^attempt))`, never under {@link BACKOFF_FLOOR_MS}.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.max(BACKOFF_FLOOR_MS, Math.floor(random() * window));
}

/** The measured part of a report; the connection adds `type`, `seq` and `sent_at`. */
export type ReportBody = Omit<ReportMessage, 'type' | 'seq' | 'sent_at'>;

/** What the agent does with the controller's messages and the lease. */
export interface ConnectionHandlers {
  /** A `welcome` arrived; the first report is sent once this resolves. */
  welcome(message: WelcomeMessage): Promise<void>;
  /** An `assign` arrived. */
  assign(message: AssignMessage): Promise<void>;
  /** Nothing has been heard from the controller for `lease_ms`. */
  leaseExpired(): Promise<void>;
  /** Measures what the next report carries. */
  report(): Promise<ReportBody>;
}

/** Options of {@link AgentConnection}. */
export interface AgentConnectionOptions {
  /** `ws(s)://host:port/api/v1/agents/connect` */
  url: string;
  nodeId: string;
  token: string;
  /** PEM of a private CA to trust for wss, or null for the system's roots. */
  ca: string | null;
  hello: Omit<HelloMessage, 'type'>;
  /** Until a `welcome` gives the controller's value. */
  reportIntervalMs: number;
  /** Until a `welcome` gives the controller's value; the lease also runs from start. */
  leaseMs: number;
  /** Where the time the controller was last heard is kept across restarts (optional). */
  leaseFile?: string;
  handlers: ConnectionHandlers;
  logger: LineLogger;
  /** For tests of the jitter; @defaultValue Math.random */
  random?: () => number;
}

/** Keeps one WebSocket to the controller open, reporting and watching the lease. */
export class AgentConnection {
  private readonly options: AgentConnectionOptions;
  private readonly log: LineLogger;
  private socket: WebSocket | null = null;
  private stopping = false;
  private attempt = 0;
  private seq = 0;
  private reportIntervalMs: number;
  private leaseMs: number;
  private lastHeardAt = Date.now();
  private recordedAt = 0;
  private leaseExpired = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  /** Controller messages are handled one at a time, in order. */
  private inbox: Promise<void> = Promise.resolve();

  constructor(options: AgentConnectionOptions) {
    this.options = Object.freeze({ ...options });
    this.log = options.logger;
    this.reportIntervalMs = options.reportIntervalMs;
    this.leaseMs = options.leaseMs;
  }

  /**
   * Connects and keeps reconnecting until {@link stop}. The lease runs from the last
   * time a controller was heard, as recorded in `leaseFile` by an earlier run of the
   * agent (a restart during a partition must not extend the lease), else from now.
   */
  start(): void {
    this.stopping = false;
    this.lastHeardAt = this.recordedHeardAt() ?? Date.now();
    this.armLease();
    this.connect();
  }

  private recordedHeardAt(): number | null {
    const file = this.options.leaseFile;
    if (!file) return null;
    try {
      const at = Number(readFileSync(file, 'utf8').trim());
      // A garbled record counts as long ago: fencing is the safe side.
      return Number.isFinite(at) && at > 0 ? Math.min(at, Date.now()) : 0;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : 0;
    }
  }

  private recordHeard(): void {
    const file = this.options.leaseFile;
    if (!file || Date.now() - this.recordedAt < 1000) return;
    this.recordedAt = Date.now();
    writeFile(file, `${this.lastHeardAt}\n`, { mode: 0o600 }).catch((e: Error) => this.log.warn({ reason: e.message }, 'cannot record the lease'));
  }

  /** Closes the socket cleanly (1000) and stops every timer; resolves within about a second. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of [this.reconnectTimer, this.reportTimer, this.leaseTimer]) if (t) clearTimeout(t);
    this.reconnectTimer = this.reportTimer = this.leaseTimer = null;
    const ws = this.socket;
    this.socket = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(1000, 'agent stopping');
    });
  }

  private connect(): void {
    if (this.stopping) return;
    const { url, token, nodeId, ca } = this.options;
    this.log.info({ url }, 'connecting to controller');
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}`, [NODE_HEADER]: nodeId },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      ...(ca !== null ? { ca } : {}),
    });
    this.socket = ws;
    let welcomed = false;
    // Only a controller that welcomed this connection renews the lease: an open socket,
    // or pings on a connection whose hello was refused, say nothing about our accounts.
    let accepted = false;

    ws.on('open', () => {
      this.log.info({ url }, 'connected to controller');
      this.send(ws, { type: 'hello', ...this.options.hello });
    });
    ws.on('ping', () => { if (accepted) this.heard(); });
    ws.on('pong', () => { if (accepted) this.heard(); });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const parsed = parseControllerMessage(isBinary ? data : data.toString('utf8'));
      if (!parsed.ok) {
        this.log.warn({ violation: parsed.error.code, reason: parsed.error.message }, 'ignoring invalid frame from controller');
        return;
      }
      const message = parsed.value;
      if (message.type === 'welcome') accepted = true;
      if (accepted) this.heard();
      this.inbox = this.inbox.then(async () => {
        if (this.socket !== ws) return;
        if (message.type === 'error') {
          this.log.error({ code: message.code, reason: message.message }, 'controller reported an error');
        } else if (message.type === 'welcome') {
          if (message.protocol !== PROTOCOL_VERSION) {
            this.log.warn({ protocol: message.protocol, ours: PROTOCOL_VERSION }, 'controller speaks another protocol version');
          }
          this.reportIntervalMs = message.report_interval_ms;
          this.leaseMs = message.lease_ms;
          this.armLease();
          this.log.info({ report_interval_ms: this.reportIntervalMs, lease_ms: this.leaseMs, assigned: message.assigned.length }, 'welcomed by controller');
          await this.options.handlers.welcome(message);
          welcomed = true;
          this.attempt = 0;
          this.reportLoop(ws);
        } else {
          await this.options.handlers.assign(message);
        }
      }).catch((e) => this.log.error({ err: e }, 'handling a controller message failed'));
    });
    ws.on('error', (e) => this.log.warn({ reason: e.message }, 'controller connection error'));
    ws.on('close', (code, reason) => {
      if (this.reportTimer) clearTimeout(this.reportTimer);
      this.reportTimer = null;
      if (this.socket === ws) this.socket = null;
      if (this.stopping) return;
      const delay = backoffDelay(this.attempt++, this.options.random);
      this.log.info({ code, reason: reason.toString('utf8').slice(0, 120), welcomed, retry_in_ms: delay }, 'controller connection closed');
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.connect();
      }, delay);
    });
  }

  /** Sends a report now, then one every report interval while `ws` stays the socket. */
  private reportLoop(ws: WebSocket): void {
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = null;
    const tick = async (): Promise<void> => {
      if (this.socket !== ws || ws.readyState !== WebSocket.OPEN) return;
      try {
        const body = await this.options.handlers.report();
        if (this.socket !== ws) return;
        this.send(ws, { type: 'report', seq: ++this.seq, sent_at: new Date().toISOString(), ...body });
      } catch (e) {
        this.log.error({ err: e }, 'building a report failed');
      }
      if (this.socket === ws && !this.stopping) this.reportTimer = setTimeout(() => void tick(), this.reportIntervalMs);
    };
    void tick();
  }

  private send(ws: WebSocket, message: AgentMessage): void {
    const text = JSON.stringify(message);
    if (Buffer.byteLength(text) > MAX_FRAME_BYTES) {
      this.log.error({ type: message.type, bytes: Buffer.byteLength(text) }, 'message larger than a frame may be; not sent');
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  /** Something arrived from the controller: the lease runs from now. */
  private heard(): void {
    this.lastHeardAt = Date.now();
    this.recordHeard();
    if (this.leaseExpired) {
      this.leaseExpired = false;
      this.armLease();
    }
  }

  private armLease(): void {
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = null;
    if (this.stopping || this.leaseExpired) return;
    const left = this.lastHeardAt + this.leaseMs - Date.now();
    if (left > 0) {
      this.leaseTimer = setTimeout(() => this.armLease(), left + 5);
      return;
    }
    this.leaseExpired = true;
    this.log.warn({ lease_ms: this.leaseMs, silent_ms: Date.now() - this.lastHeardAt }, 'lease expired: nothing heard from controller');
    // The socket is dead in all but name; a fresh connection brings a fresh welcome.
    this.socket?.terminate();
    this.inbox = this.inbox
      .then(() => this.options.handlers.leaseExpired())
      .catch((e) => this.log.error({ err: e }, 'self-fence failed'));
  }
}
