/**
 * The only place raw protocol JSON becomes typed. Each side parses what it receives
 * here; the result is a value, never an exception.
 *
 * Each direction is checked with the zod its receiver already has loaded, because this
 * module is loaded by both:
 * - agent → controller (parsed by the controller): zod 4 (`zod`), as the rest of the
 *   controller. Its issue messages reach the agent in `error` frames and the logs.
 * - controller → agent (parsed by the agent): `zod/v3`, the zod 3 API that zod 4 ships.
 *   Every zod 4 entry point (`zod`, `zod/mini`, `zod/v4/core`) also loads all of its ~60
 *   locales, which alone cost the agent about 4 MB RSS (bench/RESULTS.md, agent
 *   footprint); `zod/v3` costs under 1 MB.
 * So that the agent never loads zod 4, the agent-message schemas are built on the first
 * {@link parseAgentMessage} call, with zod 4 taken synchronously through `require()` of
 * its ES module entry (Node ≥ 20.19): the very instance `import 'zod'` gives, which the
 * controller has loaded at start anyway.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Zod4 from 'zod';
import { z } from 'zod/v3';
import { ACCOUNT_ID_PATTERN, SERVER_ID_PATTERN } from './ids.js';
import type { AgentMessage, ControllerMessage } from './protocol.js';
import { MAX_FRAME_BYTES } from './protocol.js';
import { err, ok, type Result } from './result.js';

/** What this module needs of a zod 3 or zod 4 schema. */
interface Schema<T> {
  safeParse(value: unknown):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

let agentMessage: Schema<AgentMessage> | null = null;

/** The agent-message schema (zod 4), built on first use; see the module comment. */
function agentMessageSchema(): Schema<AgentMessage> {
  if (agentMessage !== null) return agentMessage;
  const require = createRequire(import.meta.url);
  const { z: z4 } = require(fileURLToPath(import.meta.resolve('zod'))) as typeof Zod4;
  const percent = z4.number().finite().min(0).max(100);
  const hello = z4.strictObject({
    type: z4.literal('hello'),
    protocol: z4.number().int().min(1),
    node_id: z4.string().regex(SERVER_ID_PATTERN),
    agent_version: z4.string().max(64),
    hostname: z4.string().max(255),
    sessions_dir: z4.string().max(4096),
  });
  const report = z4.strictObject({
    type: z4.literal('report'),
    seq: z4.number().int().min(0),
    sent_at: z4.string().max(64),
    cpu_percent: percent,
    memory_percent: percent,
    disk_percent: percent,
    load_avg: z4.array(z4.number().finite().min(0)).max(3),
    accounts: z4.array(z4.string().regex(ACCOUNT_ID_PATTERN)).max(4096),
  });
  agentMessage = z4.discriminatedUnion('type', [hello, report]) satisfies Schema<AgentMessage>;
  return agentMessage;
}

const accountList = z.array(z.string().regex(ACCOUNT_ID_PATTERN, `must match ${ACCOUNT_ID_PATTERN}`)).max(4096);

const welcome = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().min(1),
  report_interval_ms: z.number().int().positive(),
  lease_ms: z.number().int().positive(),
  assigned: accountList,
});

const assign = z.strictObject({ type: z.literal('assign'), assigned: accountList });

const error = z.strictObject({
  type: z.literal('error'),
  code: z.string().max(64),
  message: z.string().max(1024),
});

const controllerMessage = z.discriminatedUnion('type', [welcome, assign, error]);

/** Why a frame was refused. `FRAME_TOO_LARGE` maps to close 1009, the rest to 1008. */
export interface ProtocolViolation {
  code: 'FRAME_TOO_LARGE' | 'MALFORMED_FRAME' | 'INVALID_MESSAGE';
  message: string;
}

function parseWith<T>(schema: Schema<T>, raw: string | Buffer): Result<T, ProtocolViolation> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_FRAME_BYTES) {
    return err({ code: 'FRAME_TOO_LARGE', message: `frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}` });
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return err({ code: 'MALFORMED_FRAME', message: 'frame is not valid JSON' });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : 'message';
    return err({ code: 'INVALID_MESSAGE', message: `${where}: ${first?.message ?? 'invalid'}` });
  }
  return ok(parsed.data);
}

/** Parses a frame an agent sent to the controller. */
export function parseAgentMessage(raw: string | Buffer): Result<AgentMessage, ProtocolViolation> {
  return parseWith(agentMessageSchema(), raw);
}

/** Parses a frame the controller sent to an agent. */
export function parseControllerMessage(raw: string | Buffer): Result<ControllerMessage, ProtocolViolation> {
  return parseWith<ControllerMessage>(controllerMessage, raw);
}
