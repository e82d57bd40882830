/**
 * The only place raw protocol JSON becomes typed. Each side parses what it receives
 * here; the result is a value, never an exception.
 *
 * The schemas use `zod/v3`, the zod 3 API that the zod 4 package ships, because this
 * module is also the agent's: every zod 4 entry point (`zod`, `zod/mini`, `zod/v4/core`)
 * loads all of its ~60 locales, about 4 MB of the agent's resident memory, while
 * `zod/v3` costs under 1 MB (bench/RESULTS.md, agent footprint). The controller keeps
 * zod 4 for its own input (config, HTTP).
 */
import { z } from 'zod/v3';
import { ACCOUNT_ID_PATTERN, SERVER_ID_PATTERN } from './ids.js';
import type { AgentMessage, ControllerMessage } from './protocol.js';
import { MAX_ACCOUNT_LIST, MAX_FRAME_BYTES } from './protocol.js';
import { err, ok, type Result } from './result.js';

const percent = z.number().finite().min(0).max(100);

const hello = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int().min(1).safe(),
  node_id: z.string().regex(SERVER_ID_PATTERN, `must match ${SERVER_ID_PATTERN}`),
  agent_version: z.string().max(64),
  hostname: z.string().max(255),
  sessions_dir: z.string().max(4096),
});

/**
 * A list of account ids, checked in one plain loop: `assigned` and `accounts` lists carry
 * one id per account on the server (thousands), and zod's per-element parsing cost the
 * agent, which runs in V8's lite mode, about 1.5 ms per 2,000-id `assign` against 0.25 ms
 * for this loop. The issues (type, length, first bad element with its index) are zod's.
 */
const accountList = z.custom<string[]>().superRefine((value, ctx) => {
  if (!Array.isArray(value)) {
    ctx.addIssue({ code: z.ZodIssueCode.invalid_type, expected: z.ZodParsedType.array, received: z.getParsedType(value) });
    return;
  }
  if (value.length > MAX_ACCOUNT_LIST) {
    ctx.addIssue({ code: z.ZodIssueCode.too_big, type: 'array', maximum: MAX_ACCOUNT_LIST, inclusive: true });
    return;
  }
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (typeof id !== 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.invalid_type, expected: z.ZodParsedType.string, received: z.getParsedType(id), path: [i] });
      return;
    }
    if (!ACCOUNT_ID_PATTERN.test(id)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must match ${ACCOUNT_ID_PATTERN}`, path: [i] });
      return;
    }
  }
});

const report = z.strictObject({
  type: z.literal('report'),
  seq: z.number().int().min(0).safe(),
  sent_at: z.string().max(64),
  cpu_percent: percent,
  memory_percent: percent,
  disk_percent: percent,
  load_avg: z.array(z.number().finite().min(0)).max(3),
  accounts: accountList,
});

const agentMessage = z.discriminatedUnion('type', [hello, report]);

const welcome = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().min(1).safe(),
  report_interval_ms: z.number().int().positive().safe(),
  lease_ms: z.number().int().positive().safe(),
  assigned: accountList,
});

const assign = z.strictObject({ type: z.literal('assign'), assigned: accountList });

const error = z.strictObject({
  type: z.literal('error'),
  code: z.string().max(64),
  message: z.string().max(1024),
});

const controllerMessage = z.discriminatedUnion('type', [welcome, assign, error]);

/** Why a frame was refused (answered with an `error` of this code and close 1008). */
export interface ProtocolViolation {
  code: 'FRAME_TOO_LARGE' | 'MALFORMED_FRAME' | 'INVALID_MESSAGE';
  message: string;
}

function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: string | Buffer): Result<T, ProtocolViolation> {
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
  return parseWith<AgentMessage>(agentMessage, raw);
}

/** Parses a frame the controller sent to an agent. */
export function parseControllerMessage(raw: string | Buffer): Result<ControllerMessage, ProtocolViolation> {
  return parseWith<ControllerMessage>(controllerMessage, raw);
}
