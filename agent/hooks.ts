/**
 * The worker's hooks (SPEC §6): `on_assign` as an account's session file appears,
 * `on_unassign` as it disappears or is fenced. Each runs as
 * `/bin/sh -c HOOK berth-hook ACCOUNT_ID` (`$1` is the id, `BERTH_ACCOUNT_ID` too).
 *
 * Hooks never block the event loop and never crash the agent: they run as child
 * processes, at most {@link MAX_CONCURRENT_HOOKS} at once, in order per account (an
 * account's `on_unassign` waits for its `on_assign`), each bounded by a timeout. The exit
 * code is logged.
 */
import type * as ChildProcess from 'node:child_process';
import { createRequire } from 'node:module';
import type { LineLogger } from '../shared/line-logger.js';
import type { AgentHooks } from './config.js';

const require = createRequire(import.meta.url);
/**
 * node:child_process, loaded when the first hook runs: an agent without hooks never
 * needs it (with the dgram it loads, ~1 MB in a bare node; 0.2–0.3 MB less agent RSS in
 * paired runs, bench/RESULTS.md).
 */
let childProcess: typeof ChildProcess | undefined;

/** Which hook. */
export type HookKind = 'on_assign' | 'on_unassign';

/** How one hook run ended. */
export interface HookOutcome {
  kind: HookKind;
  account_id: string;
  /** Exit code, or null when killed by a signal or not started. */
  exit_code: number | null;
  signal: string | null;
  /** Set when the process could not be started. */
  error?: string;
}

/** Hooks running at once, at most. */
export const MAX_CONCURRENT_HOOKS = 8;

/** A hook still running after this long is killed. @defaultValue 60000 */
export const HOOK_TIMEOUT_MS = 60_000;

/** Runs the configured hooks. */
export class HookRunner {
  private readonly hooks: AgentHooks;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: LineLogger;
  private readonly timeoutMs: number;
  private readonly perAccount = new Map<string, Promise<unknown>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;

  constructor(options: { hooks: AgentHooks; env: NodeJS.ProcessEnv; logger: LineLogger; timeoutMs?: number }) {
    this.hooks = options.hooks;
    this.env = options.env;
    this.log = options.logger;
    this.timeoutMs = options.timeoutMs ?? HOOK_TIMEOUT_MS;
  }

  /**
   * Queues the hook `kind` for `accountId`. Resolves when it has run (never rejects);
   * resolves to null at once when that hook is not configured.
   */
  run(kind: HookKind, accountId: string): Promise<HookOutcome | null> {
    const command = this.hooks[kind];
    if (command === null) return Promise.resolve(null);
    const previous = this.perAccount.get(accountId) ?? Promise.resolve();
    const next = previous.then(() => this.withSlot(() => this.exec(kind, command, accountId)));
    this.perAccount.set(accountId, next);
    void next.then(() => {
      if (this.perAccount.get(accountId) === next) this.perAccount.delete(accountId);
    });
    return next;
  }

  /** Resolves once every queued hook has run. */
  async idle(): Promise<void> {
    while (this.perAccount.size > 0) await Promise.all([...this.perAccount.values()]);
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= MAX_CONCURRENT_HOOKS) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private exec(kind: HookKind, command: string, accountId: string): Promise<HookOutcome> {
    const started = Date.now();
    return new Promise((resolve) => {
      let stderr = '';
      let settled = false;
      const finish = (outcome: HookOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const fields = { hook: kind, account_id: accountId, exit_code: outcome.exit_code, signal: outcome.signal, duration_ms: Date.now() - started };
        if (outcome.exit_code === 0) this.log.info(fields, 'hook ran');
        else this.log.warn({ ...fields, error: outcome.error, stderr: stderr.trim().slice(-512) || undefined }, 'hook failed');
        resolve(outcome);
      };
      childProcess ??= require('node:child_process') as typeof ChildProcess;
      const child = childProcess.spawn('/bin/sh', ['-c', command, 'berth-hook', accountId], {
        env: { ...this.env, BERTH_ACCOUNT_ID: accountId },
        stdio: ['ignore', 'ignore', 'pipe'],
        // Its own process group, so a timeout kills the whole hook, children included.
        detached: true,
      });
      const timer = setTimeout(() => {
        this.log.warn({ hook: kind, account_id: accountId, timeout_ms: this.timeoutMs }, 'hook timed out; killing it');
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, this.timeoutMs);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-2048);
      });
      child.on('error', (e) => finish({ kind, account_id: accountId, exit_code: null, signal: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
      // 'exit', not 'close': a daemon the hook started may keep our stderr pipe open for good.
      child.on('exit', (code, signal) => {
        setImmediate(() => {
          child.stderr?.destroy();
          finish({ kind, account_id: accountId, exit_code: code, signal });
        });
      });
    });
  }
}
