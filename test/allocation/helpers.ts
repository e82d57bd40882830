/**
 * Shared set-up of the allocation tests: a real controller on port 0 over real sshd
 * workers, each made eligible by a {@link FakeAgent} reporting chosen figures, plus
 * seed files in the controller's store and the consistency check every test runs.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Controller } from '../../controller/controller.js';
import { Api, fixtureConfig, removeDir, startController, tempDir, type WorkerSpec } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';
import { FakeAgent, type FakeFigures } from './fake-agent.js';

/** A worker of a rig: the fixture's spec plus the figures its fake agent reports (none: no agent). */
export interface RigWorker extends WorkerSpec {
  figures?: FakeFigures | null;
}

/** A running controller, its workers' fake agents and an admin client. */
export interface Rig {
  dir: string;
  controller: Controller;
  api: Api;
  agents: Map<string, FakeAgent>;
  /** Connects a fake agent for `id` and waits until the server is healthy. */
  connect(id: string, figures: FakeFigures): Promise<FakeAgent>;
  /** Writes `<dir>/sessions/<id>.session` and returns its bytes. */
  seed(accountId: string, bytes?: Buffer): Buffer;
  close(): Promise<void>;
}

/** Default figures: an idle server. */
export const IDLE: FakeFigures = { cpu_percent: 0, memory_percent: 0, disk_percent: 0 };

/** Starts a controller over `workers`, with fake agents for those that have figures. */
export async function startRig(workers: RigWorker[], controller: Record<string, unknown> = {}): Promise<Rig> {
  const dir = tempDir('berth-alloc-');
  const c = await startController(dir, fixtureConfig(dir, workers, controller));
  const agents = new Map<string, FakeAgent>();
  const rig: Rig = {
    dir, controller: c, api: Api.for(c.port), agents,
    async connect(id, figures) {
      const a = await FakeAgent.connect({ port: c.port, id, figures });
      agents.set(id, a);
      await waitFor(`${id} healthy`, () => c.fleet.get(id)?.healthy, 5000);
      return a;
    },
    seed(accountId, bytes) {
      const b = bytes ?? Buffer.from(`session of ${accountId} ${Math.random()}\u0000\u00ff`, 'latin1');
      writeFileSync(join(dir, 'sessions', `${accountId}.session`), b);
      return b;
    },
    async close() {
      for (const a of agents.values()) await a.close();
      await c.transfer.whenIdle();
      await c.stop();
      removeDir(dir);
    },
  };
  for (const w of workers) if (w.figures) await rig.connect(w.id, w.figures);
  return rig;
}

/** Starts `n` sshd fixtures on 127.0.0.2, 127.0.0.3, … */
export async function startSshds(n: number): Promise<SshdFixture[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startSshd({ host: `127.0.0.${i + 2}` })));
}

/** Empties every worker's session directory (between tests sharing fixtures). */
export function cleanWorkers(sshds: readonly SshdFixture[]): void {
  for (const s of sshds) rmSync(join(s.deployDir, 'sessions'), { recursive: true, force: true });
}

/** A worker's session directory. */
export function workerDir(sshd: SshdFixture): string {
  return join(sshd.deployDir, 'sessions');
}

/** Every entry of a worker's session directory, hidden ones and `.fenced/` included. */
export function workerFiles(sshd: SshdFixture): string[] {
  const dir = workerDir(sshd);
  if (!existsSync(dir)) return [];
  // Everything but the agent's own lease record.
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f !== '.berth-lease').sort();
}

/** The permission bits of a file. */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The SPEC load score with the default weights, as the API rounds it. */
export function expectedScore(f: FakeFigures, accounts: number, max: number): number {
  const exact = 0.3 * f.cpu_percent + 0.3 * f.memory_percent + 0.3 * (accounts / max) * 100 + 0.1 * f.disk_percent;
  return Math.round(exact * 100) / 100;
}

/**
 * Consistency (SPEC §4): the account's server and its newest history row agree, as the
 * API shows them. `expected` null means released (the account is gone).
 */
export async function expectConsistent(api: Api, accountId: string, expected: string | null): Promise<void> {
  const acc = await api.get(`/accounts/${encodeURIComponent(accountId)}`);
  const hist = await api.get(`/allocation/history?account_id=${encodeURIComponent(accountId)}&limit=1`);
  expect(hist.status).to.equal(200);
  const newest = hist.body.items[0];
  if (expected === null) {
    expect(acc.status, `account ${accountId} should be gone`).to.equal(404);
    expect(newest?.allocation_type).to.equal('release');
    expect(newest?.server_id).to.equal(null);
    return;
  }
  expect(acc.status).to.equal(200);
  expect(acc.body.server_id).to.equal(expected);
  expect(acc.body.status).to.equal('allocated');
  expect(newest, `history of ${accountId}`).to.not.equal(undefined);
  expect(newest.server_id).to.equal(expected);
}

/** Makes sure `<dir>/sessions` exists (it is the controller's store). */
export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}

/** A TCP listener that accepts and never speaks, counting its open connections. */
export interface MuteServer {
  readonly host: string;
  readonly port: number;
  accepted(): number;
  open(): number;
  close(): Promise<void>;
}

/** Starts a {@link MuteServer} on a loopback address. */
export async function startMute(host = '127.0.0.5'): Promise<MuteServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    // Reads and drops what the client sends, so a client that hangs up is seen to.
    s.resume();
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, host, () => res()));
  return {
    host, port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () => new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
    }),
  };
}
