/**
 * Test fixture: a real controller (in this process, or as its own process) on port 0
 * with a temp directory holding its config, SQLite file and session store; plus a real
 * agent process per worker and a small HTTP client for the admin API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../controller/config.js';
import { Controller } from '../../controller/controller.js';
import { silentLogger } from '../../shared/log.js';
import type { SshdFixture } from './sshd.js';
import { removeDir, tempDir } from './temp.js';
import { waitFor } from './wait.js';

export { removeDir, tempDir };

/** Admin token every fixture config carries. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** Viewer token every fixture config carries. */
export const VIEWER_TOKEN = 'test-viewer-token-0123456789';

export const CONTROLLER_MAIN = fileURLToPath(new URL('../../controller/main.js', import.meta.url));
export const AGENT_MAIN = fileURLToPath(new URL('../../agent/main.js', import.meta.url));

/** A worker as a test sets it up: a real sshd (optional) and its config entry. */
export interface WorkerSpec {
  id: string;
  sshd?: SshdFixture;
  max_accounts?: number;
  location?: string | null;
  status?: 'active' | 'draining' | 'disabled';
  /** Overrides of the server entry. */
  extra?: Record<string, unknown>;
}


/** The agent token a fixture gives a worker. */
export function agentToken(id: string): string {
  return `agent-token-${id}-0123456789`;
}

/** A config object for `workers`, with fast test timings unless overridden. */
export function fixtureConfig(dir: string, workers: WorkerSpec[], controller: Record<string, unknown> = {}): Record<string, unknown> {
  const servers: Record<string, unknown> = {};
  for (const w of workers) {
    servers[w.id] = {
      host: w.sshd?.host ?? '127.0.0.9', port: w.sshd?.port ?? 22, user: w.sshd?.user ?? 'root',
      password: null, private_key_path: w.sshd?.privateKeyPath ?? null, host_key: w.sshd?.hostKeyFingerprint ?? null,
      node_id: w.id, deploy_dir: w.sshd?.deployDir ?? join(dir, 'workers', w.id),
      max_accounts: w.max_accounts ?? 10, location: w.location ?? null, status: w.status ?? 'active',
      agent_token: agentToken(w.id), ...w.extra,
    };
  }
  return {
    controller: {
      listen: '127.0.0.1:0',
      database: join(dir, 'berth.sqlite'),
      sessions_dir: join(dir, 'sessions'),
      api_tokens: [{ name: 'admin', token: ADMIN_TOKEN, role: 'admin' }, { name: 'viewer', token: VIEWER_TOKEN, role: 'viewer' }],
      report_interval_ms: 200, down_after_ms: 1000, lease_ms: 1500, failover_after_ms: 2500, upload_timeout_ms: 5000,
      log_level: 'silent',
      ...controller,
    },
    servers,
  };
}

/** Starts a controller in this process. */
export async function startController(dir: string, raw: Record<string, unknown>): Promise<Controller> {
  mkdirSync(join(dir, 'sessions'), { recursive: true });
  const { config } = parseConfig(raw, join(dir, 'master_config.json'), { cwd: dir });
  const c = new Controller(config, silentLogger());
  await c.start();
  return c;
}

/**
 * The exit code of a child (null when a signal ended it), once it has ended and its
 * output has been read to the end ('close' comes after both pipes are read).
 */
function closedOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((r) => proc.once('close', (code) => r(code)));
}

/** A controller running as its own process (`node dist/controller/main.js`). */
export class ControllerProcess {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  port = 0;
  readonly #closed: Promise<number | null>;

  constructor(readonly dir: string, configFile: string, env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [CONTROLLER_MAIN, '--config', configFile], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#closed = closedOf(this.proc);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
  }

  /** Log lines parsed as JSON. */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
  }

  /** Waits for the "listening" line and reads the port from it. */
  async ready(): Promise<this> {
    const line = await waitFor('controller to listen', () => this.logs().find((l) => l.msg === 'controller listening'), 20_000);
    this.port = Number(String(line.listen).split(':').pop());
    return this;
  }

  /**
   * Resolves with the exit code (null when a signal ended it) once the process has ended
   * and its output has been read to the end.
   */
  exited(): Promise<number | null> {
    return this.#closed;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.proc.kill(signal);
  }
}

/** Writes a config file and returns its path. */
export function writeConfig(dir: string, raw: unknown): string {
  const file = join(dir, 'master_config.json');
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

/** The real agent as its own process. */
export class AgentProcess {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly #closed: Promise<number | null>;

  /**
   * `script` runs another build of the agent (the benchmarks run the release bundle);
   * `env` is added to this process's environment.
   */
  constructor(opts: { port: number; id: string; sessionsDir: string; hooks?: Record<string, string>; extra?: Record<string, unknown>; dir?: string; nodeArgs?: readonly string[]; script?: string; env?: Readonly<Record<string, string>> }) {
    const dir = opts.dir ?? tempDir('berth-agent-cfg-');
    const file = join(dir, `agent-${opts.id}.json`);
    writeFileSync(file, JSON.stringify({
      controller_url: `http://127.0.0.1:${opts.port}`, node_id: opts.id, token: agentToken(opts.id),
      sessions_dir: opts.sessionsDir, log_level: 'info', ...(opts.hooks ? { hooks: opts.hooks } : {}), ...opts.extra,
    }));
    this.proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script ?? AGENT_MAIN, '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    this.#closed = closedOf(this.proc);
    const onData = (d: Buffer) => this.lines.push(...d.toString().split('\n').filter(Boolean));
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
  }

  /** Stops the agent (SIGTERM) and waits for it to exit and for its output to be read. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.#closed;
  }
}

/** A minimal admin API client. */
export class Api {
  constructor(readonly base: string, readonly token: string | null = ADMIN_TOKEN) {}

  static for(port: number, token: string | null = ADMIN_TOKEN): Api {
    return new Api(`http://127.0.0.1:${port}/api/v1/group-ai`, token);
  }

  /** Sends a request; `body` objects are sent as JSON, strings and buffers as they are. */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: string | Buffer | undefined;
    if (body !== undefined) {
      if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
      else {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      if (typeof body === 'string') h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload as BodyInit | undefined });
    const text = await res.text();
    let parsed: unknown = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed, text };
  }

  get(path: string) { return this.call('GET', path); }
  post(path: string, body?: unknown) { return this.call('POST', path, body ?? {}); }
}


/** Reads a file, or null. */
export function readOrNull(path: string): Buffer | null {
  try { return readFileSync(path); } catch { return null; }
}
