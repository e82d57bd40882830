/**
 * A small real fleet for the failover and agent-footprint benchmarks: sshd workers, the
 * controller as its own process, the real agent on each worker, and accounts placed on
 * a chosen worker through the API.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, type AgentProcess } from '../../test/helpers/controller-fixture.js';
import type { SshdFixture } from '../../test/helpers/sshd.js';
import { removeDir, tempDir } from '../../test/helpers/temp.js';
import { BenchController } from './controller-proc.js';
import { startAgents, startWorkers, waitEligible, workerId, writeBenchConfig } from './workers.js';

/** A running fleet. */
export interface PlacedFleet {
  dir: string;
  workers: SshdFixture[];
  controller: BenchController;
  agents: AgentProcess[];
  api: Api;
  /** Accounts placed on worker 0. */
  accounts: string[];
  /** Stops everything (agents, controller, sshd) and removes the temp dir. */
  dispose(): Promise<void>;
}

/** Starts `workers` workers and places `accounts` accounts of 28 KiB on the first one. */
export async function startPlacedFleet(options: { workers: number; accounts: number; controller?: Record<string, unknown>; nodeArgs?: string[] }): Promise<PlacedFleet> {
  const dir = tempDir('berth-bench-fleet-');
  const workers = await startWorkers(options.workers);
  const configFile = writeBenchConfig(dir, workers, 100, options.controller ?? {});
  const controller = new BenchController({ configFile, cwd: dir, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}) });
  const agents: AgentProcess[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    await controller.stop();
    await Promise.all(workers.map((w) => w.dispose()));
    removeDir(dir);
  };
  try {
    await controller.ready();
    agents.push(...(await startAgents(controller.port, workers, dir)));
    const api = Api.for(controller.port);
    await waitEligible(api, options.workers);
    mkdirSync(join(dir, 'sessions', 'incoming'), { recursive: true });
    const accounts = Array.from({ length: options.accounts }, (_, i) => `fo${String(i).padStart(5, '0')}`);
    for (const id of accounts) {
      writeFileSync(join(dir, 'sessions', 'incoming', `${id}.session`), randomBytes(28 * 1024));
      const r = await api.post('/allocation/allocate', { account_id: id, session_file: `incoming/${id}.session`, server_id: workerId(0) });
      if (r.status !== 201) throw new Error(`placing ${id} failed: ${r.status} ${r.text.slice(0, 200)}`);
    }
    return { dir, workers, controller, agents, api, accounts, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** Account ids the API lists on a server (all pages). */
export async function accountsOn(api: Api, serverId: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await api.get(`/accounts?server_id=${serverId}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200) throw new Error(`GET /accounts: ${r.status}`);
    out.push(...(r.body.items as { account_id: string }[]).map((a) => a.account_id));
    cursor = r.body.next_cursor as string | null;
  } while (cursor);
  return out;
}
