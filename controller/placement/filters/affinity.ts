/**
 * The `affinity` strategy's hard rule: only servers already running the request's
 * script. It applies only to strategy `affinity` with a script given, and only while
 * some eligible server runs it (the strategy otherwise falls back to `load_balance`).
 */
import type { Filter } from '../types.js';

/** Rejects servers without the script: "runs no account of script S". */
export const affinityFilter = {
  name: 'affinity',
  applies: (request) => request.strategy === 'affinity' && request.script_id !== null,
  passes: (server, request) => request.script_id === null || (server.scripts.get(request.script_id) ?? 0) > 0,
  reason: (_server, request) => `runs no account of script ${request.script_id ?? ''} (affinity prefers servers that do)`,
} as const satisfies Filter;
