/**
 * A small fleet for the safety tests: real sshd workers on 127.0.0.2, 127.0.0.3, …,
 * the real agent process on each (optionally behind a cuttable TCP proxy), and an
 * in-process controller.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Controller } from '../../controller/controller.js';
import { AgentProcess, Api, fixtureConfig, startController, type WorkerSpec } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { TcpProxy } from './tcp-proxy.js';

/** One worker of the world. */
export interface Worker {
  id: string;
  sshd: SshdFixture;
  sessionsDir: string;
  agent: AgentProcess | null;
  proxy: TcpProxy | null;
}

/** A running fleet. */
export class World {
  readonly workers = new Map<string, Worker>();
  controller!: Controller;
  api!: Api;

  constructor(readonly dir: string) {}

  /** Starts `n` workers, the controller, and an agent per worker. */
  static async start(n: number, opts: { maxAccounts?: number; proxied?: string[]; controller?: Record<string, unknown> } = {}): Promise<World> {
    const w = new World(tempDir('berth-safety-'));
    const specs: WorkerSpec[] = [];
    for (let i = 0; i < n; i++) {
      const id = `w${i + 1}`;
      const sshd = await startSshd({ host: `127.0.0.${i + 2}` });
      const sessionsDir = join(sshd.deployDir, 'sessions');
      mkdirSync(sessionsDir, { recursive: true, mode: 0o700 });
      w.workers.set(id, { id, sshd, sessionsDir, agent: null, proxy: null });
      specs.push({ id, sshd, max_accounts: opts.maxAccounts ?? 10 });
    }
    w.controller = await startController(w.dir, fixtureConfig(w.dir, specs, opts.controller ?? {}));
    w.api = Api.for(w.controller.port);
    for (const worker of w.workers.values()) {
      if (opts.proxied?.includes(worker.id)) worker.proxy = await new TcpProxy(w.controller.port).start();
      w.startAgent(worker.id);
    }
    await waitFor('every worker healthy', () => w.controller.fleet.servers.every((s) => s.healthy), 15_000);
    return w;
  }

  /** Starts (or restarts) a worker's real agent. */
  startAgent(id: string): AgentProcess {
    const worker = this.workers.get(id)!;
    worker.agent = new AgentProcess({ port: worker.proxy?.port ?? this.controller.port, id, sessionsDir: worker.sessionsDir, dir: this.dir });
    return worker.agent;
  }

  /** Session directories by server id. */
  sessionDirs(): Record<string, string> {
    return Object.fromEntries([...this.workers.values()].map((w) => [w.id, w.sessionsDir]));
  }

  /** Puts a session into the controller's store. */
  seed(accountId: string, content: string): void {
    writeFileSync(join(this.dir, 'sessions', `${accountId}.session`), content);
  }

  /** Allocates an account (seeded first) and returns the server it landed on. */
  async allocate(accountId: string, body: Record<string, unknown> = {}): Promise<string> {
    this.seed(accountId, `initial:${accountId}`);
    const res = await this.api.post('/allocation/allocate', { account_id: accountId, session_file: `sessions/${accountId}.session`, ...body });
    if (res.status !== 201) throw new Error(`allocate ${accountId}: ${res.status} ${res.text}`);
    return res.body.server_id as string;
  }

  /** The server the database places an account on. */
  async serverOf(accountId: string): Promise<string | null> {
    return (await this.controller.store.accounts.get(accountId))?.server_id ?? null;
  }

  async stop(): Promise<void> {
    for (const w of this.workers.values()) await w.agent?.stop('SIGKILL');
    await this.controller.stop().catch(() => undefined);
    for (const w of this.workers.values()) {
      await w.proxy?.close();
      await w.sshd.dispose();
    }
    removeDir(this.dir);
  }
}
