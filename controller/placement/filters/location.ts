/**
 * The `location` strategy's hard rule: only servers in the requested location. It applies
 * only to strategy `location` with a location given; the strategy decides whether to
 * fall back when no server passes.
 */
import type { Filter } from '../types.js';

/** Rejects servers elsewhere: "location Tokyo ≠ LosAngeles" (the server's, then the request's). */
export const locationFilter = {
  name: 'location',
  applies: (request) => request.strategy === 'location' && request.location !== null,
  passes: (server, request) => request.location === null || server.location === request.location,
  reason: (server, request) => `location ${server.location ?? 'unknown'} ≠ ${request.location ?? 'any'}`,
} as const satisfies Filter;
