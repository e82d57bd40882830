/**
 * The agent's composition root: builds metrics, the session directory, hooks and the
 * controller connection from one config, and keeps the directory in line with what the
 * controller assigned (SPEC §6).
 *
 * States: `starting` (no welcome yet: files are left alone, no hooks run), `active`
 * (welcomed: files appearing run `on_assign`, files disappearing run `on_unassign`),
 * `fenced` (lease expired: every session file present is moved into `.fenced/` and stays
 * there until a `welcome` or `assign` restores the assigned ones).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LineLogger } from '../shared/line-logger.js';
import { PROTOCOL_VERSION, type AssignMessage, type WelcomeMessage } from '../shared/protocol.js';
import type { AgentConfig } from './config.js';
import { AgentConnection, type ReportBody } from './connection.js';
import { HookRunner } from './hooks.js';
import { SystemMetrics, type MetricsSource } from './metrics.js';
import { SessionsDir } from './sessions-dir.js';
import { join } from 'node:path';

/** The agent's life cycle state. */
export type AgentState = 'starting' | 'active' | 'fenced';

/** Options of {@link Agent}. */
export interface AgentOptions {
  config: AgentConfig;
  logger: LineLogger;
  /** Environment hooks run with (plus `BERTH_ACCOUNT_ID`). */
  env: NodeJS.ProcessEnv;
  /** @defaultValue a {@link SystemMetrics} for `sessions_dir` */
  metrics?: MetricsSource;
}

/** The version in package.json, or "0.0.0" when it cannot be read. */
export function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Intervals without a scan after which the timer scans by itself (see `scheduleSync`). */
export const SCAN_GAP = 1.5;

/** One worker's agent. */
export class Agent {
  private readonly config: AgentConfig;
  private readonly log: LineLogger;
  private readonly dir: SessionsDir;
  private readonly hooks: HookRunner;
  private readonly metrics: MetricsSource;
  private readonly connection: AgentConnection;
  private readonly announced = new Set<string>();
  private stateValue: AgentState = 'starting';
  private syncIntervalMs: number;
  private syncTimer: NodeJS.Timeout | null = null;
  /** When the last scan of the directory finished (performance.now()). */
  private lastSyncAt = Number.NEGATIVE_INFINITY;
  private running = false;
  /** Directory changes happen one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.dir = new SessionsDir({ path: this.config.sessions_dir, logger: this.log });
    this.hooks = new HookRunner({ hooks: this.config.hooks, env: options.env, logger: this.log });
    this.metrics = options.metrics ?? new SystemMetrics({ sessionsDir: this.config.sessions_dir });
    this.syncIntervalMs = this.config.report_interval_ms;
    this.connection = new AgentConnection({
      url: this.config.connect_url,
      nodeId: this.config.node_id,
      token: this.config.token,
      ca: this.config.ca,
      hello: {
        protocol: PROTOCOL_VERSION,
        node_id: this.config.node_id,
        agent_version: agentVersion(),
        hostname: hostname(),
        sessions_dir: this.config.sessions_dir,
      },
      reportIntervalMs: this.config.report_interval_ms,
      leaseMs: this.config.lease_ms,
      leaseFile: join(this.config.sessions_dir, '.berth-lease'),
      logger: this.log,
      handlers: {
        welcome: (m) => this.exclusive(() => this.onWelcome(m)),
        assign: (m) => this.exclusive(() => this.onAssign(m)),
        leaseExpired: () => this.exclusive(() => this.selfFence()),
        report: () => this.exclusive(() => this.buildReport()),
      },
    });
  }

  /** The agent's state. */
  get state(): AgentState {
    return this.stateValue;
  }

  /** Creates `sessions_dir` when missing and starts connecting. */
  async start(): Promise<void> {
    await this.dir.ensure();
    this.running = true;
    this.connection.start();
    this.scheduleSync();
  }

  /** Closes the controller connection cleanly; running hooks are left to finish on their own. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    await this.connection.stop();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Keeps hooks (and, when fenced, the directory) in line while no reports go out
   * (disconnected, fenced). Every report scans the directory too, so the timer scans only
   * when no scan happened for {@link SCAN_GAP} intervals, judged inside the queue (after
   * any report already waiting there): while reports flow, one scan per interval.
   */
  private scheduleSync(delayMs = this.syncIntervalMs): void {
    if (this.syncTimer) clearTimeout(this.syncTimer); // one chain, even across stop/start
    this.syncTimer = null;
    if (!this.running) return;
    this.syncTimer = setTimeout(() => {
      let waitMs = SCAN_GAP * this.syncIntervalMs;
      void this.exclusive(async () => {
        const dueIn = this.lastSyncAt + SCAN_GAP * this.syncIntervalMs - performance.now();
        if (dueIn > 0) waitMs = dueIn;
        else await this.sync();
      })
        .catch((e) => this.log.error({ err: e }, 'scanning sessions_dir failed'))
        .finally(() => this.scheduleSync(waitMs));
    }, delayMs);
  }

  private async onWelcome(message: WelcomeMessage): Promise<void> {
    if (message.report_interval_ms !== this.syncIntervalMs) {
      // The hook timer follows the controller's interval from now on, not after its old wait.
      this.syncIntervalMs = message.report_interval_ms;
      this.scheduleSync();
    }
    const previous = this.stateValue;
    this.stateValue = 'active';
    await this.restore(message.assigned);
    // Files present but not assigned belong elsewhere now (e.g. re-placed while this
    // server was away): fence them and leave them for the controller to collect.
    const assigned = new Set(message.assigned);
    const stale = (await this.dir.scan()).filter((id) => !assigned.has(id));
    if (stale.length > 0) {
      this.log.warn({ accounts: stale }, 'session files not assigned to this server; fencing them');
      await this.fence(stale);
    }
    if (previous !== 'active') this.log.info({ state: 'active' }, 'agent active');
    await this.sync();
  }

  private async onAssign(message: AssignMessage): Promise<void> {
    this.log.info({ assigned: message.assigned.length }, 'assignment changed');
    if (this.stateValue === 'fenced') return; // only a welcome ends a self-fence
    await this.restore(message.assigned);
    await this.sync();
  }

  private async restore(assigned: readonly string[]): Promise<void> {
    const out = await this.dir.restore(assigned);
    if (out.moved.length > 0) this.log.info({ accounts: out.moved }, 'restored fenced session files');
    if (out.failed.length > 0) this.log.error({ failed: out.failed }, 'could not restore fenced session files');
  }

  private async fence(ids?: readonly string[]): Promise<void> {
    const out = await this.dir.fence(ids);
    if (out.moved.length > 0) this.log.warn({ accounts: out.moved, fenced_dir: this.dir.fencedPath }, 'fenced session files');
    if (out.failed.length > 0) this.log.error({ failed: out.failed }, 'could not fence session files');
    for (const id of out.moved) {
      this.announced.delete(id);
      void this.hooks.run('on_unassign', id);
    }
  }

  private async selfFence(): Promise<void> {
    this.stateValue = 'fenced';
    this.log.warn({ state: 'fenced' }, 'self-fencing: moving every session file into .fenced/');
    await this.fence();
    for (const id of this.announced) void this.hooks.run('on_unassign', id);
    this.announced.clear();
  }

  /** Scans the directory; runs hooks for changes (active) or fences what appeared (fenced). */
  private async sync(): Promise<string[]> {
    const present = await this.dir.scan();
    this.lastSyncAt = performance.now();
    if (this.stateValue === 'fenced') {
      if (present.length > 0) await this.fence(present);
      return this.dir.scan();
    }
    if (this.stateValue === 'active') {
      const now = new Set(present);
      for (const id of present) {
        if (!this.announced.has(id)) {
          this.announced.add(id);
          void this.hooks.run('on_assign', id);
        }
      }
      for (const id of [...this.announced]) {
        if (!now.has(id)) {
          this.announced.delete(id);
          void this.hooks.run('on_unassign', id);
        }
      }
    }
    return present;
  }

  private async buildReport(): Promise<ReportBody> {
    const [accounts, load] = await Promise.all([this.sync(), this.metrics.sample()]);
    return { ...load, accounts };
  }
}
