/**
 * The composition root: builds every part of the controller from one config, wires
 * them, and starts and stops them in order.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/log.js';
import type { BerthConfig, ServerConfig } from './config.js';
import { Alerts, OverloadWatch } from './alerts.js';
import { AgentHub } from './fleet/agent-hub.js';
import { Fleet } from './fleet/fleet.js';
import { LoadSampler } from './fleet/sampler.js';
import { createApp } from './http/app.js';
import { withHotPath } from './http/hot-path.js';
import type { ApiContext } from './http/context.js';
import { JobScheduler } from './jobs/scheduler.js';
import { ControllerMetrics } from './metrics.js';
import { AccountLocks } from './operations/account-locks.js';
import { AccountService } from './operations/account-service.js';
import { Allocator } from './operations/allocate.js';
import { Reconciler } from './operations/reconcile.js';
import { ServerOps } from './operations/drain.js';
import { FailoverMonitor } from './operations/failover.js';
import { Mover } from './operations/mover.js';
import { Placer } from './operations/placer.js';
import { Rebalancer } from './operations/rebalance.js';
import type { Operations } from './operations/types.js';
import { loadScore } from './placement/scorers/load-score.js';
import type { ServerStatus } from './placement/types.js';
import { SessionFiles } from './store/session-files.js';
import { openStore, type Store } from './store/store.js';
import { SessionTransfer } from './transfer/session-transfer.js';
import { SshPool, sshNativeCrypto } from './transfer/ssh-pool.js';

/** How long a stop waits for operations in flight, and then for session copies being written. */
const STOP_WAIT_MS = 10_000;

/** A running controller. */
export class Controller {
  private cfg: BerthConfig;
  private readonly secretLists = new WeakMap<BerthConfig, readonly (string | null)[]>();
  readonly log: Logger;
  readonly fleet: Fleet;
  readonly sessions: SessionFiles;
  readonly locks = new AccountLocks();
  readonly jobs: JobScheduler;
  readonly startedAt = Date.now();
  store!: Store;
  pool!: SshPool;
  transfer!: SessionTransfer;
  hub!: AgentHub;
  metrics!: ControllerMetrics;
  alerts!: Alerts;
  placer!: Placer;
  allocator!: Allocator;
  mover!: Mover;
  serverOps!: ServerOps;
  rebalancer!: Rebalancer;
  failover!: FailoverMonitor;
  reconciler!: Reconciler;
  accounts!: AccountService;
  operations!: Operations;
  server!: Server;
  private tickTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;
  private drainKick: NodeJS.Timeout | null = null;
  /** What {@link saveServerState} last wrote per server, to write only changes. */
  private readonly savedState = new Map<string, string>();
  /** Settings of servers removed from the config that still hold accounts. */
  private readonly retired = new Map<string, ServerConfig>();
  private stopping = false;

  constructor(config: BerthConfig, logger: Logger) {
    this.cfg = config;
    this.log = logger;
    this.fleet = new Fleet(config.servers.values());
    this.sessions = new SessionFiles({ dir: config.controller.sessions_dir });
    this.jobs = new JobScheduler(logger);
  }

  /** The config in force. */
  get config(): BerthConfig {
    return this.cfg;
  }

  /** The bound port (after start). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Opens the store, restores state, starts listening and scheduling. */
  async start(): Promise<void> {
    const c = () => this.cfg.controller;
    const log = this.log;
    this.store = await openStore(c().database, {
      backgroundCheckpoint: true,
      onCheckpointFailure: (message) => log.warn({ err_message: message }, 'background WAL checkpoint failed'),
    });
    await this.sessions.init();
    await this.restoreState();

    this.pool = new SshPool({
      servers: (id) => this.cfg.servers.get(id) ?? (this.fleet.get(id) ? this.retired.get(id) : undefined),
      hostKeys: {
        get: (id) => this.store.servers.getHostKey(id),
        record: async (id, fp) => {
          await this.store.servers.update(id, { host_key: fp }, new Date().toISOString());
          log.info({ server_id: id, host_key: fp }, 'host key recorded on first use');
        },
      },
      connectTimeoutMs: c().upload_timeout_ms,
      logger: log.child({ part: 'ssh' }),
    });
    this.transfer = new SessionTransfer({ pool: this.pool, defaultTimeoutMs: c().upload_timeout_ms, logger: log.child({ part: 'transfer' }) });
    this.hub = new AgentHub({
      fleet: this.fleet,
      logger: log.child({ part: 'agents' }),
      settings: () => c(),
      onWelcome: (id) => {
        this.metrics.agentConnections.inc({ server_id: id });
        this.reconciler.agentWelcomed(id);
      },
      onProtocolError: (_id, code) => this.metrics.protocolErrors.inc({ code }),
    });
    this.metrics = new ControllerMetrics(this.fleet, () => c().weights, () => this.hub.connectedCount);
    this.alerts = new Alerts({
      webhooks: () => c().alerts.webhooks, logger: log.child({ part: 'alerts' }), secrets: () => this.secrets(),
      onEmit: (event, sent) => this.metrics.alerts.inc({ event, outcome: sent ? 'sent' : 'suppressed' }),
      onDelivery: (ok) => this.metrics.alertDeliveries.inc({ outcome: ok ? 'ok' : 'failed' }),
    });
    this.placer = new Placer({
      fleet: this.fleet, transfer: this.transfer, ledger: this.store.ledger, logger: log, settings: () => c(),
      hooks: {
        uploaded: (_id, seconds, ok) => this.metrics.uploadSeconds.observe({ outcome: ok ? 'ok' : 'failed' }, seconds),
        committed: (_id, type) => this.metrics.allocations.inc({ type, outcome: 'ok' }),
      },
    });
    this.allocator = new Allocator({
      store: this.store, sessions: this.sessions, fleet: this.fleet, placer: this.placer, locks: this.locks, logger: log,
      defaultStrategy: () => c().default_strategy,
      onFailure: (accountId, e) => {
        this.metrics.allocations.inc({ type: 'initial', outcome: 'failed' });
        this.alerts.emit({ event: 'allocation_failed', severity: 'warning', account_id: accountId, message: `allocation of ${accountId} failed: ${e.code} ${e.message}` });
      },
    });
    this.mover = new Mover({
      store: this.store, sessions: this.sessions, fleet: this.fleet, transfer: this.transfer, placer: this.placer,
      locks: this.locks, logger: log, settings: () => c(),
      onMove: (type, outcome) => this.metrics.moves.inc({ type, outcome }),
    });
    this.serverOps = new ServerOps({ fleet: this.fleet, store: this.store, mover: this.mover, logger: log });
    this.rebalancer = new Rebalancer({ fleet: this.fleet, store: this.store, mover: this.mover, logger: log, settings: () => c(), alerts: this.alerts });
    this.reconciler = new Reconciler({ fleet: this.fleet, store: this.store, sessions: this.sessions, transfer: this.transfer, locks: this.locks, logger: log.child({ part: 'reconcile' }), alerts: this.alerts, settings: () => c() });
    this.failover = new FailoverMonitor({ fleet: this.fleet, store: this.store, mover: this.mover, transfer: this.transfer, logger: log.child({ part: 'failover' }), alerts: this.alerts, settings: () => c() });
    this.accounts = new AccountService({ store: this.store, sessions: this.sessions, allocator: this.allocator, locks: this.locks, settings: () => c() });
    this.operations = this.buildOperations();
    this.wireFleetEvents();

    const ctx: ApiContext = {
      config: () => this.cfg, fleet: this.fleet, hub: this.hub, store: this.store, sessions: this.sessions,
      operations: this.operations, accounts: this.accounts, metrics: this.metrics.registry,
    };
    const httpLog = log.child({ part: 'http' });
    const listener = withHotPath(createApp(ctx, httpLog), ctx, httpLog);
    const tls = c().tls;
    this.server = tls
      ? createHttpsServer({ cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) }, listener)
      : createHttpServer(listener);
    this.server.headersTimeout = 20_000;
    this.server.requestTimeout = 120_000;
    this.hub.attach(this.server);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(c().port, c().host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    log.info({ listen: `${c().host}:${this.port}`, tls: tls !== null, servers: this.fleet.servers.length, database: c().database, ssh_native_crypto: sshNativeCrypto() }, 'controller listening');

    this.tickTimer = setInterval(() => this.tick(), Math.min(1000, c().report_interval_ms));
    this.tickTimer.unref();
    this.scheduleJobs();
    void this.reconciler.recoverMoves();
  }

  /** Loads server overrides and placements from the store into the fleet. */
  private async restoreState(): Promise<void> {
    const now = new Date().toISOString();
    await this.store.servers.ensure(this.cfg.servers.keys(), now);
    for (const row of await this.store.servers.list()) {
      const s = this.fleet.get(row.server_id);
      if (!s) continue;
      s.statusOverride = row.status_override as ServerStatus | null;
      s.last_down_at = row.last_down_at ? Date.parse(row.last_down_at) : null;
      s.refreshDownRecently(Date.now());
    }
    const unknown = this.fleet.loadAssignments(await this.store.accounts.listPlaced());
    if (unknown.length > 0) {
      // Their servers' agents can no longer connect, so they fence themselves once their
      // lease is out; after that the accounts wait as pending and are placed elsewhere.
      const waitMs = this.cfg.controller.lease_ms + this.cfg.controller.report_interval_ms;
      this.log.warn({ accounts: unknown.length, sample: unknown.slice(0, 10), pending_in_ms: waitMs }, 'accounts are placed on servers no longer configured');
      this.orphanTimer = setTimeout(() => void this.releaseOrphans(unknown), waitMs);
      this.orphanTimer.unref();
    }
  }

  /** Accounts of servers gone from the config, once those agents' leases are out: pending. */
  private async releaseOrphans(ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.locks.with(id, async () => {
        const acc = await this.store.accounts.get(id);
        if (!acc?.server_id || this.fleet.get(acc.server_id)) return;
        await this.store.ledger.commit({
          account_id: id, server_id: null, from_server_id: acc.server_id, allocation_type: 'failover', load_score: null, strategy: null,
          reason: `server ${acc.server_id} is no longer configured; its agent's lease ran out; pending re-placement from the controller's copy`,
        }, new Date().toISOString(), { status: 'pending' });
      }).catch((e) => this.log.error({ account_id: id, err: e }, 'could not release an account of a removed server'));
    }
  }

  private wireFleetEvents(): void {
    // server_up is an alert only after a server_down this process reported (not at first contact).
    const alertedDown = new Set<string>();
    this.fleet.on('server_down', (id) => {
      alertedDown.add(id);
      const s = this.fleet.get(id);
      this.log.warn({ server_id: id }, 'server down');
      if (s?.last_down_at) void this.store.servers.update(id, { last_down_at: new Date(s.last_down_at).toISOString() }, new Date().toISOString()).catch(() => undefined);
      this.alerts.emit({ event: 'server_down', severity: 'critical', server_id: id, message: `server ${id} stopped reporting` });
    });
    this.fleet.on('server_up', (id) => {
      this.log.info({ server_id: id }, 'server up');
      this.kickDrains();
      if (alertedDown.delete(id)) this.alerts.emit({ event: 'server_up', severity: 'info', server_id: id, message: `server ${id} is reporting again` });
    });
    const overload = new OverloadWatch(this.alerts);
    this.fleet.on('report', (id) => {
      this.reconciler.reportArrived(id);
      const s = this.fleet.get(id);
      if (s) overload.check(id, loadScore(s, this.cfg.controller.weights), s.disk_percent);
    });
  }

  /**
   * Carries on draining soon after a server turns healthy (a drain cut short by a restart
   * goes on once the agents report; capacity for failed drain moves may have come back),
   * at most once a second however many servers come up together.
   */
  private kickDrains(): void {
    if (this.drainKick || this.stopping) return;
    this.drainKick = setTimeout(() => {
      this.drainKick = null;
      if (this.stopping) return;
      void this.serverOps.continueDrains().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'drain continuation failed'));
    }, 1000);
    this.drainKick.unref();
  }

  /**
   * Writes each server's last report time and consecutive failures to the `servers`
   * table (SPEC §8) where they changed since the last write: every minute and at stop.
   * They are kept for the operator; failover keeps timing from what this run has seen.
   */
  async saveServerState(): Promise<void> {
    const rows = [];
    for (const s of this.fleet.servers) {
      const lastReportAt = s.last_report_at === null ? null : new Date(s.last_report_at).toISOString();
      const key = `${lastReportAt}|${s.consecutive_failures}`;
      if (this.savedState.get(s.server_id) === key) continue;
      rows.push({ server_id: s.server_id, last_report_at: lastReportAt, consecutive_failures: s.consecutive_failures, key });
    }
    await this.store.servers.saveRuntime(rows, new Date().toISOString());
    for (const r of rows) this.savedState.set(r.server_id, r.key);
  }

  /** Secret values of the config, blanked out of alert messages: one list per loaded config. */
  private secrets(): readonly (string | null)[] {
    const cfg = this.cfg;
    let list = this.secretLists.get(cfg);
    if (!list) {
      list = [...cfg.controller.api_tokens.map((t) => t.token), ...[...cfg.servers.values()].flatMap((s) => [s.agent_token, s.password])];
      this.secretLists.set(cfg, list);
    }
    return list;
  }

  private buildOperations(): Operations {
    return {
      allocate: (req) => this.allocator.allocate(req),
      rebalance: (opts) => this.rebalancer.run(opts),
      moveAccount: (id, serverId) => this.mover.move({ account_id: id, allocation_type: 'manual', to_server_id: serverId, context: 'moved by the API' }),
      releaseAccount: (id) => this.mover.release(id),
      setServerStatus: (id, status, reason) => this.serverOps.setStatus(id, status, reason),
      drain: (id) => this.serverOps.drain(id),
    };
  }

  private tick(): void {
    const c = this.cfg.controller;
    const now = Date.now();
    this.fleet.tick(now, c.down_after_ms, c.report_interval_ms, this.startedAt);
    this.failover.tick(now);
  }

  private scheduleJobs(): void {
    const sampler = new LoadSampler({ fleet: this.fleet, samples: this.store.samples, weights: () => this.cfg.controller.weights });
    this.jobs.schedule({ name: 'sample-load', schedule: '* * * * *', run: () => sampler.sample() });
    this.jobs.schedule({ name: 'prune-samples', schedule: '17 3 * * *', run: () => sampler.prune() });
    this.jobs.schedule({ name: 'retry-pending', schedule: '* * * * *', run: () => this.reconciler.retryPending(this.allocator) });
    this.jobs.schedule({ name: 'continue-drains', schedule: '* * * * *', run: () => this.serverOps.continueDrains() });
    this.jobs.schedule({ name: 'save-server-state', schedule: '* * * * *', run: () => this.saveServerState() });
    this.scheduleRebalance();
  }

  private scheduleRebalance(): void {
    const schedule = this.cfg.controller.rebalance.schedule;
    if (schedule) this.jobs.schedule({ name: 'rebalance', schedule, run: () => this.rebalancer.run({}) });
    else this.jobs.cancel('rebalance');
  }

  /** Applies a reloaded config (SIGHUP). */
  async reload(next: BerthConfig): Promise<void> {
    // A server removed from the file while it still holds accounts (or a move works on
    // it) stays reachable with its last settings until it is empty.
    for (const [id, cfg] of this.cfg.servers) if (!next.servers.has(id)) this.retired.set(id, cfg);
    for (const id of next.servers.keys()) this.retired.delete(id);
    const changes = this.fleet.applyConfig(next.servers.values());
    for (const id of [...this.retired.keys()]) if (!this.fleet.get(id)) this.retired.delete(id);
    this.cfg = next;
    await this.store.servers.ensure(next.servers.keys(), new Date().toISOString());
    this.pool.reconcile();
    this.hub.reload();
    this.scheduleRebalance();
    this.log.info({ ...changes }, 'config reloaded');
    // A server the file now sets to draining starts moving its accounts at once.
    this.kickDrains();
  }

  /**
   * Graceful stop: no new work, in-flight transfers finish (bounded), agents told 1001,
   * database closed. Resolves true, or false when session copies were still being
   * written after the bound: the writer's thread may then be stuck in a system call, and
   * `process.exit` would wait to join it (see main.ts).
   */
  async stop(): Promise<boolean> {
    if (this.stopping) return true;
    this.stopping = true;
    this.log.info('controller stopping');
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.orphanTimer) clearTimeout(this.orphanTimer);
    if (this.drainKick) clearTimeout(this.drainKick);
    this.reconciler?.close();
    this.serverOps?.close();
    this.jobs.stopAll();
    const closed = new Promise<void>((r) => this.server?.close(() => r()));
    this.server?.closeIdleConnections();
    await Promise.race([this.locks.idle(), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    await this.hub?.close();
    this.server?.closeAllConnections();
    await closed;
    await this.alerts?.close();
    await this.pool?.close();
    if (this.store && this.fleet) await this.saveServerState().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'could not save server state'));
    // Copies still being written finish before the database closes (their callers record
    // the digest); a writer stuck on a dead disk does not hold the stop for ever.
    const written = await Promise.race([this.sessions?.close().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), STOP_WAIT_MS).unref())]);
    if (written === false) this.log.warn({ waited_ms: STOP_WAIT_MS }, 'session copies still being written at stop; closing the database without waiting for them');
    await this.store?.close();
    this.log.info('controller stopped');
    return written !== false;
  }
}
