/**
 * A fleet whose controller runs as its own process, for the crash tests: real sshd
 * workers on 127.0.0.2, 127.0.0.3, …, the real agent on each, and a controller on a fixed
 * port so the agents find it again after it is killed and restarted.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import SQLite from 'better-sqlite3';
import { join } from 'node:path';
import { AgentProcess, Api, ControllerProcess, fixtureConfig, writeConfig, type WorkerSpec } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { expect } from 'chai';
import { sleep, waitFor } from '../helpers/wait.js';
import { liveIds, type LiveSampler } from './live-sampler.js';

/** Rows in the move journal of a fleet's database. */
export function journalSize(dir: string): number {
  const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM moves').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The running fleet. */
export class ProcessFleet {
  readonly sshds: SshdFixture[] = [];
  readonly agents: AgentProcess[] = [];
  /** Sessions directory of each worker, by server id. */
  readonly dirs: Record<string, string> = {};
  controller: ControllerProcess | null = null;
  port = 0;
  file = '';
  api!: Api;

  private constructor(readonly dir: string) {}

  /** Starts `workers` sshd, the controller process and an agent per worker; waits until all are healthy. */
  static async start(workers: number, opts: { maxAccounts: number; controller?: Record<string, unknown> }): Promise<ProcessFleet> {
    const f = new ProcessFleet(tempDir('berth-crash-'));
    const specs: WorkerSpec[] = [];
    for (let i = 0; i < workers; i++) {
      const sshd = await startSshd({ host: `127.0.0.${i + 2}` });
      f.sshds.push(sshd);
      const id = `w${i + 1}`;
      specs.push({ id, sshd, max_accounts: opts.maxAccounts });
      f.dirs[id] = join(sshd.deployDir, 'sessions');
      mkdirSync(f.dirs[id]!, { recursive: true });
    }
    f.port = await freePort();
    f.file = writeConfig(f.dir, fixtureConfig(f.dir, specs, { listen: `127.0.0.1:${f.port}`, log_level: 'info', ...opts.controller }));
    mkdirSync(join(f.dir, 'sessions'), { recursive: true });
    f.api = Api.for(f.port);
    await f.startController();
    for (const s of specs) f.agents.push(new AgentProcess({ port: f.port, id: s.id, sessionsDir: f.dirs[s.id]!, dir: f.dir }));
    await f.waitHealthy();
    return f;
  }

  /** Starts the controller process (again) on the same port, config and database. */
  async startController(): Promise<ControllerProcess> {
    this.controller = await new ControllerProcess(this.dir, this.file).ready();
    return this.controller;
  }

  /** Kills the controller with SIGKILL and waits for it to be gone. */
  async killController(): Promise<void> {
    this.controller!.kill('SIGKILL');
    await this.controller!.exited();
  }

  /** Waits until every worker is healthy in the rankings. */
  waitHealthy(): Promise<boolean> {
    return waitFor('every worker healthy', async () => {
      const r = await this.api.get('/allocation/rankings');
      return r.status === 200 && r.body.servers.filter((s: { healthy: boolean }) => s.healthy).length === this.sshds.length;
    }, 30_000);
  }

  /**
   * Restarts the controller, waits for the fleet, for `until` (when given), for the
   * journal to empty and for the workers to agree with the database, then stops the
   * sampler.
   */
  async restartAndSettle(sampler: LiveSampler, until?: { what: string; done: () => boolean }): Promise<void> {
    await this.startController();
    await this.waitHealthy();
    if (until) await waitFor(until.what, until.done, 60_000);
    await waitFor('unfinished moves settled', () => journalSize(this.dir) === 0, 60_000);
    // Repairs after the first reports (drift checks) take SSH round trips: wait for the
    // workers to agree with the database, then watch a moment longer for duplicates.
    // The check throws until they agree; waitFor keeps its last message for a timeout.
    await waitFor('workers agree with the database', () => {
      this.expectWorkersAgree(this.accounts());
      return true;
    }, 30_000, 100);
    await sleep(1500);
    await sampler.stop();
  }

  /** The accounts table, read directly. */
  accounts(): { account_id: string; server_id: string | null; status: string }[] {
    const db = new SQLite(join(this.dir, 'berth.sqlite'), { readonly: true });
    try {
      return db.prepare('SELECT account_id, server_id, status FROM accounts').all() as { account_id: string; server_id: string | null; status: string }[];
    } finally {
      db.close();
    }
  }

  /** Asserts the workers and the database agree: every live file is where the database says, and every placed account is live there. */
  expectWorkersAgree(rows: { account_id: string; server_id: string | null }[]): void {
    const where = new Map(rows.map((r) => [r.account_id, r.server_id]));
    for (const [server, d] of Object.entries(this.dirs)) {
      for (const id of liveIds(d)) expect(where.get(id), `${id} live on ${server}`).to.equal(server);
    }
    for (const r of rows) {
      if (r.server_id) expect(liveIds(this.dirs[r.server_id]!), `${r.account_id} on ${r.server_id}`).to.include(r.account_id);
    }
  }

  async dispose(): Promise<void> {
    for (const a of this.agents) await a.stop('SIGKILL');
    this.controller?.kill('SIGKILL');
    for (const s of this.sshds) await s.dispose();
    removeDir(this.dir);
  }
}
