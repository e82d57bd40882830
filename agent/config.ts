/**
 * The agent's configuration (SPEC §6): a JSON file (`--config FILE` or `BERTH_CONFIG`)
 * and the environment variables `BERTH_CONTROLLER_URL`, `BERTH_NODE_ID`,
 * `BERTH_AGENT_TOKEN`, `BERTH_SESSIONS_DIR`, which override or fill the file's values.
 * Validated once, typed and frozen. A wrong value is refused naming the key and where it
 * came from; unknown keys become warnings. This is the only agent file that reads
 * `process.env`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
// zod's zod 3 API: every zod 4 entry point also loads all its locales (~4 MB RSS more);
// see shared/protocol-schema.ts.
import { z } from 'zod/v3';
import { SERVER_ID_PATTERN } from '../shared/ids.js';
import { AGENT_CONNECT_PATH } from '../shared/protocol.js';
import { LAUNCHER_ENV_VAR } from './node-flags.js';

/** Shell commands run as accounts appear in and disappear from `sessions_dir`. */
export interface AgentHooks {
  /** Run with `$1` = account id when its session file appears. */
  readonly on_assign: string | null;
  /** Run with `$1` = account id when its session file disappears or is fenced. */
  readonly on_unassign: string | null;
}

/** The agent's validated, frozen configuration. */
export interface AgentConfig {
  /** The controller's base URL as configured (`http://host:8000`, `https://…`). */
  readonly controller_url: string;
  /** WebSocket URL derived from `controller_url`: `ws(s)://host:port/api/v1/agents/connect`. */
  readonly connect_url: string;
  readonly node_id: string;
  /** The agent token; never logged. */
  readonly token: string;
  /** Absolute path of the worker's session directory. */
  readonly sessions_dir: string;
  readonly hooks: AgentHooks;
  /** Absolute path of a PEM CA bundle to trust for wss, or null. */
  readonly ca_file: string | null;
  /** The PEM read from `ca_file`, or null. */
  readonly ca: string | null;
  /** Used until the controller's `welcome` says otherwise. @defaultValue 5000 */
  readonly report_interval_ms: number;
  /** Used until the controller's `welcome` says otherwise. @defaultValue 20000 */
  readonly lease_ms: number;
  /** pino level. @defaultValue "info" */
  readonly log_level: LogLevel;
}

/** Log levels accepted by `log_level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What {@link loadAgentConfig} returns: the config and warnings to log. */
export interface LoadedAgentConfig {
  readonly config: AgentConfig;
  /** Human-readable warnings (unknown keys), safe to log. */
  readonly warnings: readonly string[];
  /** The config file read, or null when everything came from the environment. */
  readonly file: string | null;
}

/** A configuration the agent refuses to start with. The message names the key and its source. */
export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

/** Environment variables read, and the key each fills. */
export const ENV_KEYS = Object.freeze({
  BERTH_CONTROLLER_URL: 'controller_url',
  BERTH_NODE_ID: 'node_id',
  BERTH_AGENT_TOKEN: 'token',
  BERTH_SESSIONS_DIR: 'sessions_dir',
} as const);

const KNOWN_KEYS = [
  'controller_url', 'node_id', 'token', 'sessions_dir', 'hooks', 'ca_file',
  'report_interval_ms', 'lease_ms', 'log_level',
];

const nonEmpty = z.string().trim().min(1, 'must be a non-empty string');
const hookCommand = z.union([nonEmpty, z.null()]).optional();

const schema = z.object({
  controller_url: nonEmpty.refine((v) => /^(https?|wss?):\/\/[^/]+/i.test(v) && URL.canParse(v), {
    message: 'must be an http:// or https:// URL such as http://controller:8000',
  }),
  node_id: z.string().regex(SERVER_ID_PATTERN, `must match ${SERVER_ID_PATTERN}`),
  token: nonEmpty,
  sessions_dir: nonEmpty,
  hooks: z
    .object({ on_assign: hookCommand, on_unassign: hookCommand })
    .optional(),
  ca_file: z.union([nonEmpty, z.null()]).optional(),
  report_interval_ms: z.number().int().min(50).max(3_600_000).optional(),
  lease_ms: z.number().int().min(100).max(86_400_000).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
});

/** The WebSocket URL for a controller base URL: http→ws, https→wss, path + `/api/v1/agents/connect`. */
export function connectUrlFor(controllerUrl: string): string {
  const url = new URL(controllerUrl);
  const scheme = url.protocol.toLowerCase();
  url.protocol = scheme === 'https:' || scheme === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${AGENT_CONNECT_PATH}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** The config file named by `--config FILE` / `--config=FILE`, else `BERTH_CONFIG`, else null. */
export function configFileFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' || arg === '-c') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) throw new AgentConfigError('--config needs a file name');
      return next;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  const fromEnv = env.BERTH_CONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : null;
}

function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgentConfigError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AgentConfigError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AgentConfigError(`${file}: the top level must be a JSON object`);
  }
  return raw as Record<string, unknown>;
}

/** Replaces `"${NAME}"` string values with the environment variable NAME, as the controller's config does. */
function expandEnvRefs(value: unknown, where: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value);
    if (!m) return value;
    const v = env[m[1]!];
    if (v === undefined) throw new AgentConfigError(`${where}: environment variable ${m[1]} is not set`);
    return v;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnvRefs(v, `${where}.${k}`, env);
    return out;
  }
  return value;
}

/**
 * Loads the agent's configuration from an optional file and the environment.
 * Throws {@link AgentConfigError} naming the key and the file (or variable) at fault.
 */
export function loadAgentConfig(options: { file: string | null; env: NodeJS.ProcessEnv; cwd?: string }): LoadedAgentConfig {
  const cwd = options.cwd ?? process.cwd();
  const file = options.file === null ? null : resolve(cwd, options.file);
  const merged: Record<string, unknown> = {};
  const source = new Map<string, string>();
  const warnings: string[] = [];

  if (file !== null) {
    const raw = readJsonFile(file);
    for (const [key, value] of Object.entries(raw)) {
      if (!KNOWN_KEYS.includes(key)) {
        warnings.push(`${file}: unknown key "${key}" ignored`);
        continue;
      }
      merged[key] = expandEnvRefs(value, `${file}: ${key}`, options.env);
      source.set(key, file);
    }
    const hooks = merged.hooks;
    if (hooks && typeof hooks === 'object' && !Array.isArray(hooks)) {
      for (const key of Object.keys(hooks)) {
        if (key !== 'on_assign' && key !== 'on_unassign') warnings.push(`${file}: unknown key "hooks.${key}" ignored`);
      }
    }
  }
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = options.env[name];
    if (v !== undefined && v !== '') {
      merged[key] = v;
      source.set(key, `environment variable ${name}`);
    }
  }

  const where = (key: string): string => source.get(key) ?? file ?? 'the environment';
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.') || 'config';
    const top = String(issue.path[0] ?? '');
    if (issue.code === 'invalid_type' && merged[top] === undefined) {
      const envName = Object.entries(ENV_KEYS).find(([, k]) => k === top)?.[0];
      const hint = envName ? ` (set it in the config file or ${envName})` : '';
      throw new AgentConfigError(`${file ?? 'agent config'}: ${key}: is required${hint}`);
    }
    throw new AgentConfigError(`${where(top)}: ${key}: ${issue.message}`);
  }
  const v = parsed.data;

  const caFile = v.ca_file ? resolve(cwd, v.ca_file) : null;
  let ca: string | null = null;
  if (caFile !== null) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new AgentConfigError(`${where('ca_file')}: ca_file: cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AgentConfigError(`${where('ca_file')}: ca_file: ${caFile} holds no PEM certificate`);
    }
  }

  const config: AgentConfig = Object.freeze({
    controller_url: v.controller_url,
    connect_url: connectUrlFor(v.controller_url),
    node_id: v.node_id,
    token: v.token,
    sessions_dir: resolve(cwd, v.sessions_dir),
    hooks: Object.freeze({ on_assign: v.hooks?.on_assign ?? null, on_unassign: v.hooks?.on_unassign ?? null }),
    ca_file: caFile,
    ca,
    report_interval_ms: v.report_interval_ms ?? 5000,
    lease_ms: v.lease_ms ?? 20000,
    log_level: v.log_level ?? 'info',
  });
  return Object.freeze({ config, warnings: Object.freeze(warnings), file });
}

/**
 * The environment hooks run with: the agent's own, less what the release launcher set
 * for the agent process alone (named in {@link LAUNCHER_ENV_VAR}, e.g. the allocator
 * setting of agent/node-flags.ts), so the session runners a hook starts keep the
 * defaults.
 */
export function hookEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const launcherSet = env[LAUNCHER_ENV_VAR];
  if (launcherSet === undefined) return env;
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of [...launcherSet.split(/\s+/).filter(Boolean), LAUNCHER_ENV_VAR]) delete out[name];
  return out;
}

/**
 * Loads the configuration the running process was started with (argv and
 * `process.env`); `env` is what hooks run with ({@link hookEnvironment}).
 */
export function loadAgentConfigFromProcess(): LoadedAgentConfig & { readonly env: NodeJS.ProcessEnv } {
  const env = process.env;
  const file = configFileFromArgs(process.argv.slice(2), env);
  return { ...loadAgentConfig({ file, env }), env: hookEnvironment(env) };
}
