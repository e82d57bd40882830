/**
 * The agents' WebSocket endpoint (SPEC §6). Authenticates the upgrade against the
 * server's agent token, validates every frame at the edge with the shared schema,
 * keeps one socket per node (a newer one replaces the older), pings every report
 * interval to measure latency, and pushes `assign` whenever a server's accounts change.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_CONNECT_PATH, CloseCode, FRAME_READ_LIMIT_BYTES, NODE_HEADER, PROTOCOL_VERSION, type ControllerMessage } from '../../shared/protocol.js';
import { parseAgentMessage } from '../../shared/protocol-schema.js';
import type { Logger } from '../../shared/log.js';
import type { Fleet } from './fleet.js';

/** Settings the hub needs; read live so a reload applies. */
export interface AgentHubSettings {
  report_interval_ms: number;
  lease_ms: number;
}

/** Sockets pinged per event-loop turn. */
const PING_SLICE = 250;

/** How long additions to a server's accounts may wait to be told together. */
export const ASSIGN_COALESCE_MS = 100;

/** Options of the {@link AgentHub}. */
export interface AgentHubOptions {
  fleet: Fleet;
  logger: Logger;
  settings: () => AgentHubSettings;
  /** Called after a node said hello and was welcomed (drift check, collecting leftovers). */
  onWelcome?: (serverId: string, hello: { sessions_dir: string }) => void;
  /** Counts protocol errors and connections (metrics). */
  onProtocolError?: (serverId: string, code: string) => void;
}

interface AgentConn {
  ws: WebSocket;
  serverId: string;
  helloDone: boolean;
  pingSentAt: number | null;
  /** Set once the socket broke the protocol: nothing more from it is processed. */
  refused: boolean;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The agents' endpoint. */
export class AgentHub {
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<string, AgentConn>();
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly assignQueue = new Set<string>();
  private assignTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly options: AgentHubOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: FRAME_READ_LIMIT_BYTES, perMessageDeflate: false });
    options.fleet.on('assignment', (serverId, change) => {
      // A removal is told at once (the agent must stop counting on the account before
      // it is fenced); additions in a burst are coalesced into one `assign` per server.
      if (change === 'removed') this.sendAssign(serverId);
      else this.queueAssign(serverId);
    });
  }

  /** Number of agents connected and welcomed. */
  get connectedCount(): number {
    let n = 0;
    for (const c of this.conns.values()) if (c.helloDone) n++;
    return n;
  }

  /** Hooks the endpoint onto an HTTP(S) server and starts pinging. */
  attach(server: HttpServer): void {
    server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
    this.schedulePings();
  }

  private schedulePings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.pingAll(), this.options.settings().report_interval_ms);
    this.pingTimer.unref();
  }

  /** Re-reads settings (after a config reload). */
  reload(): void {
    this.schedulePings();
    // An agent whose server left the fleet is no longer one of ours: drop it, so its
    // lease runs out and it fences what it still holds.
    for (const [id, conn] of this.conns) {
      if (!this.options.fleet.get(id)) conn.ws.close(CloseCode.POLICY_VIOLATION, 'server removed from the configuration');
    }
  }

  private refuse(socket: Duplex, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n` +
      JSON.stringify({ error: { code: status === 401 ? 'UNAUTHORIZED' : 'NOT_FOUND', message: text } }));
  }

  private authenticate(req: IncomingMessage): string | null {
    const node = req.headers[NODE_HEADER];
    const auth = req.headers.authorization;
    if (typeof node !== 'string' || typeof auth !== 'string' || !auth.startsWith('Bearer ')) return null;
    const server = this.options.fleet.get(node);
    const expected = server?.config.agent_token;
    if (!expected) return null;
    const given = auth.slice('Bearer '.length);
    return timingSafeEqual(digest(given), digest(expected)) ? node : null;
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_CONNECT_PATH) return this.refuse(socket, 404, 'Not Found');
    if (this.closing) return this.refuse(socket, 503, 'Service Unavailable');
    const serverId = this.authenticate(req);
    if (!serverId) {
      this.options.logger.warn({ node: String(req.headers[NODE_HEADER] ?? '').slice(0, 64), remote: req.socket.remoteAddress }, 'agent upgrade refused: bad token or unknown node');
      this.options.onProtocolError?.(String(req.headers[NODE_HEADER] ?? 'unknown').slice(0, 64), 'UNAUTHORIZED');
      return this.refuse(socket, 401, 'Unauthorized');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, serverId));
  }

  private accept(ws: WebSocket, serverId: string): void {
    const log = this.options.logger.child({ server_id: serverId });
    const previous = this.conns.get(serverId);
    const conn: AgentConn = { ws, serverId, helloDone: false, pingSentAt: null, refused: false };
    this.conns.set(serverId, conn);
    if (previous) {
      log.info('a newer agent connection replaces the older one');
      previous.ws.close(CloseCode.REPLACED, 'replaced by a newer connection');
    }
    ws.on('message', (data, isBinary) => this.onFrame(conn, data as Buffer, isBinary));
    ws.on('pong', () => {
      if (conn.pingSentAt !== null) {
        const s = this.options.fleet.get(serverId);
        if (s && this.conns.get(serverId) === conn) s.latency_ms = Date.now() - conn.pingSentAt;
        conn.pingSentAt = null;
      }
    });
    ws.on('error', (e) => {
      const code = (e as { code?: string }).code ?? 'WS_ERROR';
      log.warn({ code }, 'agent socket error');
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.options.onProtocolError?.(serverId, 'FRAME_TOO_LARGE');
      // ws closes the socket itself (1009 for a frame over FRAME_READ_LIMIT_BYTES, 1002/1007
      // for broken framing); there is no room for an `error` message then.
      conn.refused = true;
      if (this.conns.get(serverId) === conn) {
        this.conns.delete(serverId);
        this.options.fleet.setConnected(serverId, false);
      }
    });
    ws.on('close', (code) => {
      if (this.conns.get(serverId) === conn) {
        this.conns.delete(serverId);
        this.options.fleet.setConnected(serverId, false);
        log.info({ code }, 'agent disconnected');
      }
    });
  }

  /** Answers a protocol error with an `error` message and close 1008 (SPEC §6). */
  private violate(conn: AgentConn, code: string, message: string): void {
    // From here on the socket counts as gone, even before the close handshake ends:
    // frames it still sends are ignored and the server is no longer connected through it.
    conn.refused = true;
    if (this.conns.get(conn.serverId) === conn) {
      this.conns.delete(conn.serverId);
      this.options.fleet.setConnected(conn.serverId, false);
    }
    this.options.logger.warn({ server_id: conn.serverId, code }, `agent protocol error: ${message}`);
    this.options.onProtocolError?.(conn.serverId, code);
    this.send(conn, { type: 'error', code, message });
    conn.ws.close(CloseCode.POLICY_VIOLATION, code);
  }

  private onFrame(conn: AgentConn, data: Buffer, isBinary: boolean): void {
    if (conn.refused || this.conns.get(conn.serverId) !== conn) return;
    if (isBinary) return this.violate(conn, 'MALFORMED_FRAME', 'binary frames are not accepted');
    const parsed = parseAgentMessage(data);
    if (!parsed.ok) return this.violate(conn, parsed.error.code, parsed.error.message);
    const msg = parsed.value;
    const fleet = this.options.fleet;
    if (msg.type === 'hello') {
      if (conn.helloDone) return this.violate(conn, 'UNEXPECTED_HELLO', 'hello was already received');
      if (msg.node_id !== conn.serverId) return this.violate(conn, 'NODE_MISMATCH', 'hello node_id differs from X-Berth-Node');
      if (msg.protocol !== PROTOCOL_VERSION) return this.violate(conn, 'UNSUPPORTED_PROTOCOL', `protocol ${msg.protocol} is not supported; this controller speaks ${PROTOCOL_VERSION}`);
      conn.helloDone = true;
      const s = fleet.get(conn.serverId);
      if (s) s.agent = { version: msg.agent_version, hostname: msg.hostname, sessions_dir: msg.sessions_dir };
      fleet.setConnected(conn.serverId, true);
      const settings = this.options.settings();
      this.send(conn, {
        type: 'welcome', protocol: PROTOCOL_VERSION, report_interval_ms: settings.report_interval_ms,
        lease_ms: settings.lease_ms, assigned: fleet.assignedTo(conn.serverId),
      });
      this.options.logger.info({ server_id: conn.serverId, agent_version: msg.agent_version, hostname: msg.hostname }, 'agent welcomed');
      this.options.onWelcome?.(conn.serverId, { sessions_dir: msg.sessions_dir });
      return;
    }
    if (!conn.helloDone) return this.violate(conn, 'REPORT_BEFORE_HELLO', 'report before hello');
    fleet.applyReport(conn.serverId, msg, Date.now());
  }

  private send(conn: AgentConn, msg: ControllerMessage): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(msg));
  }

  /** Sends the latest list to a server's agent within {@link ASSIGN_COALESCE_MS}. */
  private queueAssign(serverId: string): void {
    this.assignQueue.add(serverId);
    if (this.assignTimer) return;
    this.assignTimer = setTimeout(() => {
      this.assignTimer = null;
      const ids = [...this.assignQueue];
      this.assignQueue.clear();
      for (const id of ids) this.sendAssign(id);
    }, ASSIGN_COALESCE_MS);
    this.assignTimer.unref();
  }

  /** Tells a server's agent its full assignment list now. */
  sendAssign(serverId: string): void {
    this.assignQueue.delete(serverId);
    const conn = this.conns.get(serverId);
    if (conn?.helloDone) this.send(conn, { type: 'assign', assigned: this.options.fleet.assignedTo(serverId) });
  }

  /** True when a server's agent is connected and welcomed. */
  isConnected(serverId: string): boolean {
    return this.conns.get(serverId)?.helloDone === true;
  }

  /**
   * Pings every welcomed agent, {@link PING_SLICE} sockets at a time, the slices spread
   * over the first half of the interval. Pinging 5,000 sockets in one go blocks the loop
   * for a couple of hundred milliseconds; and pinged at once, their pongs came back in one
   * wave that set every server's `latency_ms` at once, so the next rankings call made
   * again every row whose latency had changed. Spread, pongs arrive as steadily as reports.
   */
  private pingAll(): void {
    const conns = [...this.conns.values()];
    const slices = Math.ceil(conns.length / PING_SLICE);
    const gapMs = slices > 1 ? Math.floor(this.options.settings().report_interval_ms / 2 / slices) : 0;
    const slice = (from: number): void => {
      if (this.closing) return;
      // Each slice's own time: a pong's latency is measured from when its ping left.
      const now = Date.now();
      const end = Math.min(conns.length, from + PING_SLICE);
      for (let i = from; i < end; i++) this.pingOne(conns[i]!, now);
      if (end >= conns.length) return;
      if (gapMs > 0) setTimeout(slice, gapMs, end).unref();
      else setImmediate(slice, end);
    };
    slice(0);
  }

  private pingOne(conn: AgentConn, now: number): void {
    // Only welcomed agents: a ping must not renew the lease of one we did not accept.
    if (this.conns.get(conn.serverId) !== conn || !conn.helloDone || conn.ws.readyState !== conn.ws.OPEN) return;
    if (conn.pingSentAt !== null && now - conn.pingSentAt >= 2 * this.options.settings().report_interval_ms) {
      // Two intervals without a pong: a half-open socket (the network went away
      // without a FIN). Drop it, so the server counts as disconnected now rather than
      // when TCP gives up, minutes later.
      this.options.logger.warn({ server_id: conn.serverId }, 'agent stopped answering pings; dropping its socket');
      conn.ws.terminate();
      return;
    }
    if (conn.pingSentAt === null) conn.pingSentAt = now;
    conn.ws.ping();
  }

  /** Closes every agent socket with 1001 and stops pinging. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.assignTimer) clearTimeout(this.assignTimer);
    const closed = [...this.conns.values()].map((c) => new Promise<void>((resolve) => {
      c.ws.once('close', () => resolve());
      c.ws.close(CloseCode.GOING_AWAY, 'controller shutting down');
      setTimeout(() => { c.ws.terminate(); resolve(); }, 1000).unref();
    }));
    await Promise.all(closed);
    this.wss.close();
  }
}
