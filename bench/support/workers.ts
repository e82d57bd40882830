/**
 * Worker set-ups for the end-to-end benchmarks: real sshd on 127.0.0.2…, a controller
 * config that names them, and the real agent on each.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess, Api, fixtureConfig, writeConfig } from '../../test/helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../../test/helpers/sshd.js';
import { waitFor } from '../../test/helpers/wait.js';
import { AGENT_LAUNCH_ENV, AGENT_NODE_FLAGS } from '../../agent/node-flags.js';
import { releaseBundle } from '../../test/helpers/release-bundle.js';

/** Starts `n` sshd on 127.0.0.2, 127.0.0.3, …. */
export async function startWorkers(n: number): Promise<SshdFixture[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startSshd({ host: `127.0.0.${2 + i}` })));
}

/** The server id of worker `i`. */
export function workerId(i: number): string {
  return `worker-${String(i + 1).padStart(2, '0')}`;
}

/**
 * Writes a controller config for the workers with the DEFAULT timings (unlike the test
 * fixture's fast ones) unless `controller` overrides them, logging at info.
 */
export function writeBenchConfig(dir: string, workers: SshdFixture[], maxAccounts: number, controller: Record<string, unknown> = {}): string {
  mkdirSync(join(dir, 'sessions'), { recursive: true });
  const raw = fixtureConfig(dir, workers.map((sshd, i) => ({ id: workerId(i), sshd, max_accounts: maxAccounts })), {
    report_interval_ms: 5000, down_after_ms: 15000, lease_ms: 20000, failover_after_ms: 30000, upload_timeout_ms: 10000,
    log_level: 'info', ...controller,
  });
  return writeConfig(dir, raw);
}

/**
 * Starts the real agent for every worker (sessions in `<deployDir>/sessions`) as the
 * release launcher does: the bundle, with the launcher's node flags and environment.
 */
export async function startAgents(port: number, workers: SshdFixture[], dir: string): Promise<AgentProcess[]> {
  const { file: script } = await releaseBundle();
  return workers.map((sshd, i) => new AgentProcess({
    port, id: workerId(i), sessionsDir: join(sshd.deployDir, 'sessions'), dir, extra: { log_level: 'warn' },
    nodeArgs: AGENT_NODE_FLAGS, env: AGENT_LAUNCH_ENV, script,
  }));
}

/** Waits until `count` servers are eligible in GET /allocation/rankings. */
export async function waitEligible(api: Api, count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${count} eligible servers`, async () => {
    const r = await api.get('/allocation/rankings');
    return r.status === 200 && (r.body.servers as { eligible: boolean }[]).filter((s) => s.eligible).length >= count;
  }, timeoutMs, 100);
}

/** Live `.session` files in a worker's session directory. */
export function liveSessions(sshd: SshdFixture): string[] {
  try {
    return readdirSync(join(sshd.deployDir, 'sessions')).filter((f) => f.endsWith('.session') && !f.startsWith('.'));
  } catch {
    return [];
  }
}
