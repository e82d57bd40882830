/** Servers the request rules out: the account's current server, servers already tried. */
import type { Filter } from '../types.js';

/** Rejects servers named in `request.exclude`: "excluded by the request". */
export const exclusionFilter = {
  name: 'exclusion',
  applies: (request) => request.exclude !== null && request.exclude.size > 0,
  passes: (server, request) => request.exclude === null || !request.exclude.has(server.server_id),
  reason: () => 'excluded by the request',
} as const satisfies Filter;
