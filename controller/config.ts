/**
 * The controller's configuration (SPEC §2): `data/master_config.json`, validated once,
 * typed and frozen. `"${NAME}"` values come from the environment; defaults fill the
 * rest; a wrong value is refused with the key and the file named; unknown keys are
 * reported as warnings. This is the only controller file that reads `process.env`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { SERVER_ID_PATTERN } from '../shared/ids.js';
import { PLACEMENT_MAX_IDS } from './placement/filters/capacity.js';
import { STRATEGIES, type ServerStatus, type Strategy, type Weights } from './placement/types.js';

/** Every alert event (SPEC §9); webhooks name the ones they want. */
export const ALERT_EVENTS = ['allocation_failed', 'server_down', 'server_up', 'server_overloaded', 'failover', 'rebalance', 'drift'] as const;
/** One of {@link ALERT_EVENTS}. */
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** One admin API token. */
export interface ApiToken {
  readonly name: string;
  readonly token: string;
  readonly role: 'admin' | 'viewer';
}

/** One worker server as configured. */
export interface ServerConfig {
  readonly server_id: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | null;
  readonly private_key_path: string | null;
  readonly host_key: string | null;
  readonly deploy_dir: string;
  /** `<deploy_dir>/sessions` */
  readonly sessions_dir: string;
  readonly max_accounts: number;
  readonly location: string | null;
  readonly status: ServerStatus;
  readonly agent_token: string | null;
}

/** A webhook receiving alerts (SPEC §9). */
export interface WebhookConfig {
  readonly url: string;
  readonly events: readonly string[] | null;
}

/** Rebalance settings (SPEC §7). */
export interface RebalanceConfig {
  /** cron expression, or null = off. @defaultValue null */
  readonly schedule: string | null;
  /** @defaultValue 30 */
  readonly threshold: number;
  /** @defaultValue 10 */
  readonly max_migrations: number;
  /** @defaultValue 1800000 */
  readonly cooldown_ms: number;
}

/** The controller's own settings. */
export interface ControllerSettings {
  /** @defaultValue "0.0.0.0:8000" */
  readonly listen: string;
  readonly host: string;
  readonly port: number;
  /** Absolute path. @defaultValue "data/berth.sqlite" */
  readonly database: string;
  /** Absolute path of the controller's session store. @defaultValue "data/sessions" */
  readonly sessions_dir: string;
  readonly api_tokens: readonly ApiToken[];
  /** @defaultValue "load_balance" */
  readonly default_strategy: Strategy;
  /** Normalised to sum 1. @defaultValue cpu 0.3, memory 0.3, accounts 0.3, disk 0.1 */
  readonly weights: Weights;
  /** @defaultValue 5000 */
  readonly report_interval_ms: number;
  /** @defaultValue 15000 */
  readonly down_after_ms: number;
  /** @defaultValue 20000 */
  readonly lease_ms: number;
  /** @defaultValue 30000 */
  readonly failover_after_ms: number;
  /** @defaultValue 10000 */
  readonly upload_timeout_ms: number;
  readonly rebalance: RebalanceConfig;
  readonly alerts: { readonly webhooks: readonly WebhookConfig[] };
  /** PEM certificate and key paths; both set = HTTPS and WSS. @defaultValue null */
  readonly tls: { readonly cert_file: string; readonly key_file: string } | null;
  /** @defaultValue "info" */
  readonly log_level: string;
}

/** The whole validated configuration. */
export interface BerthConfig {
  readonly file: string;
  readonly controller: ControllerSettings;
  readonly servers: ReadonlyMap<string, ServerConfig>;
}

/** Outcome of loading: the config and the warnings to log. */
export interface LoadedConfig {
  config: BerthConfig;
  warnings: string[];
  /** Set when the file did not exist and was created with a fresh admin token. */
  created: boolean;
}

/** A config file that cannot be used; the message names the key and the file. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const nullableString = z.string().nullable().optional();
const positiveInt = z.number().int().positive();

const serverSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  password: nullableString,
  private_key_path: nullableString,
  host_key: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must be an OpenSSH SHA256: fingerprint').nullable().optional(),
  node_id: z.string().optional(),
  deploy_dir: z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path'),
  max_accounts: z.number().int().min(0),
  location: z.string().nullable().optional(),
  status: z.enum(['active', 'draining', 'disabled']).default('active'),
  agent_token: nullableString,
});

const controllerSchema = z.object({
  listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port').default('0.0.0.0:8000'),
  database: z.string().min(1).default('data/berth.sqlite'),
  sessions_dir: z.string().min(1).default('data/sessions'),
  api_tokens: z.array(z.object({
    name: z.string().min(1),
    token: z.string().min(16, 'must be at least 16 characters'),
    role: z.enum(['admin', 'viewer']),
  })).default([]),
  default_strategy: z.enum(STRATEGIES).default('load_balance'),
  weights: z.object({
    cpu: z.number().min(0).default(0.3),
    memory: z.number().min(0).default(0.3),
    accounts: z.number().min(0).default(0.3),
    disk: z.number().min(0).default(0.1),
  }).refine((w) => w.cpu + w.memory + w.accounts + w.disk > 0, 'must not all be 0').default({ cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 }),
  report_interval_ms: positiveInt.min(100).default(5000),
  down_after_ms: positiveInt.default(15000),
  lease_ms: positiveInt.default(20000),
  failover_after_ms: positiveInt.default(30000),
  upload_timeout_ms: positiveInt.default(10000),
  rebalance: z.object({
    schedule: z.string().nullable().default(null),
    threshold: z.number().min(0).max(100).default(30),
    max_migrations: z.number().int().min(0).default(10),
    cooldown_ms: z.number().int().min(0).default(1800000),
  }).default({ schedule: null, threshold: 30, max_migrations: 10, cooldown_ms: 1800000 }),
  alerts: z.object({
    webhooks: z.array(z.object({
      url: z.url({ protocol: /^https?$/ }),
      events: z.array(z.string()).nullable().optional(),
    })).default([]),
  }).default({ webhooks: [] }),
  tls: z.object({ cert_file: z.string().min(1), key_file: z.string().min(1) }).nullable().default(null),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const fileSchema = z.object({
  controller: controllerSchema.default(controllerSchema.parse({})),
  servers: z.record(z.string(), serverSchema).default({}),
});

const KNOWN_KEYS = {
  root: Object.keys(fileSchema.shape),
  controller: Object.keys(controllerSchema.shape),
  server: Object.keys(serverSchema.shape),
  rebalance: ['schedule', 'threshold', 'max_migrations', 'cooldown_ms'],
  weights: ['cpu', 'memory', 'accounts', 'disk'],
  apiToken: ['name', 'token', 'role'],
  alerts: ['webhooks'],
  webhook: ['url', 'events'],
  tls: ['cert_file', 'key_file'],
};

/** Replaces every `"${NAME}"` string with the environment variable NAME. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: string, file: string): unknown {
  if (typeof value === 'string') {
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value);
    if (!m) return value;
    const v = env[m[1]!];
    if (v === undefined) throw new ConfigError(`${file}: ${path}: environment variable ${m[1]} is not set`);
    return v;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`, file));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, path ? `${path}.${k}` : k, file)]));
  }
  return value;
}

function unknownKeys(raw: Record<string, unknown>): string[] {
  const out: string[] = [];
  const check = (obj: unknown, known: string[], prefix: string) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return;
    for (const k of Object.keys(obj)) if (!known.includes(k)) out.push(prefix + k);
  };
  check(raw, KNOWN_KEYS.root, '');
  const c = raw.controller as Record<string, unknown> | undefined;
  check(c, KNOWN_KEYS.controller, 'controller.');
  check(c?.rebalance, KNOWN_KEYS.rebalance, 'controller.rebalance.');
  check(c?.weights, KNOWN_KEYS.weights, 'controller.weights.');
  check(c?.tls, KNOWN_KEYS.tls, 'controller.tls.');
  const each = (list: unknown, known: string[], prefix: string) => {
    if (Array.isArray(list)) list.forEach((item, i) => check(item, known, `${prefix}[${i}].`));
  };
  each(c?.api_tokens, KNOWN_KEYS.apiToken, 'controller.api_tokens');
  const alerts = c?.alerts as Record<string, unknown> | undefined;
  check(alerts, KNOWN_KEYS.alerts, 'controller.alerts.');
  each(alerts?.webhooks, KNOWN_KEYS.webhook, 'controller.alerts.webhooks');
  const servers = raw.servers;
  if (servers && typeof servers === 'object') {
    for (const [id, s] of Object.entries(servers)) check(s, KNOWN_KEYS.server, `servers.${id}.`);
  }
  return out;
}

/** Webhook `events` entries that name no alert event: such a webhook would never get them. */
function unknownAlertEvents(raw: Record<string, unknown>): string[] {
  const hooks = ((raw.controller as Record<string, unknown> | undefined)?.alerts as Record<string, unknown> | undefined)?.webhooks;
  if (!Array.isArray(hooks)) return [];
  const out: string[] = [];
  hooks.forEach((hook, i) => {
    const events = (hook as Record<string, unknown> | null)?.events;
    if (!Array.isArray(events)) return;
    for (const e of events) {
      if (typeof e === 'string' && !(ALERT_EVENTS as readonly string[]).includes(e)) {
        out.push(`controller.alerts.webhooks[${i}].events: unknown event "${e.slice(0, 100)}" never fires (events: ${ALERT_EVENTS.join(', ')})`);
      }
    }
  });
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    const values = o instanceof Map ? [...o.values()] : Object.values(o);
    for (const v of values) deepFreeze(v);
  }
  return o;
}

/**
 * Validates a parsed config object. `file` names the source in messages; relative
 * paths resolve against `cwd`.
 */
export function parseConfig(raw: unknown, file: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { config: BerthConfig; warnings: string[] } {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: the top level must be a JSON object`);
  const warnings = unknownKeys(raw as Record<string, unknown>).map((k) => `${file}: unknown key ${k} is ignored`);
  warnings.push(...unknownAlertEvents(raw as Record<string, unknown>).map((w) => `${file}: ${w}`));
  const substituted = substituteEnv(raw, env, '', file);
  const parsed = fileSchema.safeParse(substituted);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.') || '(top level)';
    throw new ConfigError(`${file}: ${key}: ${issue.message}`);
  }
  const c = parsed.data.controller;
  const [, host, port] = /^(.*):(\d+)$/.exec(c.listen)!;
  const portNum = Number(port);
  if (portNum > 65535) throw new ConfigError(`${file}: controller.listen: port must be ≤ 65535`);
  if (c.failover_after_ms <= c.lease_ms + c.report_interval_ms) {
    warnings.push(`${file}: controller.failover_after_ms (${c.failover_after_ms}) should exceed lease_ms + report_interval_ms (${c.lease_ms + c.report_interval_ms}) so a cut-off worker has fenced itself before its accounts are re-placed`);
  }
  if (c.rebalance.schedule !== null && !isCronExpression(c.rebalance.schedule)) {
    throw new ConfigError(`${file}: controller.rebalance.schedule: not a valid cron expression`);
  }
  const wsum = c.weights.cpu + c.weights.memory + c.weights.accounts + c.weights.disk;
  const servers = new Map<string, ServerConfig>();
  for (const [id, s] of Object.entries(parsed.data.servers)) {
    if (!SERVER_ID_PATTERN.test(id)) throw new ConfigError(`${file}: servers.${id}: server id must match ${SERVER_ID_PATTERN}`);
    if (s.node_id !== undefined && s.node_id !== id) throw new ConfigError(`${file}: servers.${id}.node_id: must equal the server id "${id}"`);
    const deploy = s.deploy_dir.replace(/\/+$/, '') || '/';
    if (s.max_accounts > PLACEMENT_MAX_IDS) {
      warnings.push(`${file}: servers.${id}.max_accounts ${s.max_accounts} is above ${PLACEMENT_MAX_IDS}, the most accounts one agent-protocol list can carry with room for moves; ${PLACEMENT_MAX_IDS} is used`);
    }
    servers.set(id, {
      server_id: id, host: s.host, port: s.port, user: s.user,
      password: s.password ?? null,
      private_key_path: s.private_key_path ? resolve(cwd, s.private_key_path) : null,
      host_key: s.host_key ?? null,
      deploy_dir: deploy,
      sessions_dir: `${deploy === '/' ? '' : deploy}/sessions`,
      max_accounts: Math.min(s.max_accounts, PLACEMENT_MAX_IDS), location: s.location ?? null, status: s.status,
      agent_token: s.agent_token ?? null,
    });
  }
  const config: BerthConfig = {
    file,
    controller: {
      ...c,
      host: host!.replace(/^\[|\]$/g, ''),
      port: portNum,
      database: c.database === ':memory:' ? c.database : resolve(cwd, c.database),
      sessions_dir: resolve(cwd, c.sessions_dir),
      weights: { cpu: round12(c.weights.cpu / wsum), memory: round12(c.weights.memory / wsum), accounts: round12(c.weights.accounts / wsum), disk: round12(c.weights.disk / wsum) },
      alerts: { webhooks: c.alerts.webhooks.map((w) => ({ url: w.url, events: w.events ?? null })) },
      tls: c.tls ? { cert_file: resolve(cwd, c.tls.cert_file), key_file: resolve(cwd, c.tls.key_file) } : null,
    },
    servers,
  };
  return { config: deepFreeze(config), warnings };
}

/** Rounds to 12 decimals so 0.3/1 shows as 0.3. */
function round12(x: number): number {
  return Math.round(x * 1e12) / 1e12;
}

function isCronExpression(expr: string): boolean {
  return validateCron(expr);
}

/**
 * Reads and validates the config file. When it does not exist, writes one with an
 * empty fleet and a random admin token (file mode 0600) and says so in `created`.
 */
export function loadConfig(file: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; createIfMissing?: boolean } = {}): LoadedConfig {
  const path = resolve(options.cwd ?? process.cwd(), file);
  let created = false;
  if (!existsSync(path)) {
    if (options.createIfMissing === false) throw new ConfigError(`${path}: file not found`);
    mkdirSync(dirname(path), { recursive: true });
    const initial = {
      controller: { api_tokens: [{ name: 'admin', token: randomBytes(24).toString('base64url'), role: 'admin' }] },
      servers: {},
    };
    writeFileSync(path, JSON.stringify(initial, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // The engine's message quotes the text around the error, which may be a password or
    // a token: only the position is kept.
    throw new ConfigError(`${path}: not valid JSON${jsonErrorPlace(text, (e as Error).message)}`);
  }
  const { config, warnings } = parseConfig(raw, path, options);
  return { config, warnings, created };
}

/** ` at line L, column C` from a JSON.parse message that gives a position, else ''. */
function jsonErrorPlace(text: string, message: string): string {
  let position = -1;
  const at = /at position (\d+)/.exec(message);
  if (at) position = Number(at[1]);
  // "Unexpected token 'h', ..."assword": hunter2sec"... is not valid JSON": find the
  // quoted excerpt in the text to get the position, and drop the excerpt.
  const token = /^Unexpected token '(.)', (?:\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(message);
  if (token) {
    const excerpt = text.indexOf(token[2]!);
    // V8 shows 10 characters before the token when it cuts the excerpt's start ("...");
    // an uncut excerpt (a very short file) does not say where in it the token is.
    if (excerpt >= 0 && message.includes(`, ..."`)) position = excerpt + 10;
  }
  if (position < 0) return /Unexpected end of JSON input/.test(message) ? ' (it ends too early)' : '';
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

/** Where the config file is: `--config FILE`, else `BERTH_CONFIG`, else `data/master_config.json`. */
export function configPathFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const i = argv.indexOf('--config');
  if (i >= 0 && argv[i + 1]) return argv[i + 1]!;
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return eq.slice('--config='.length);
  return env.BERTH_CONFIG ?? 'data/master_config.json';
}
