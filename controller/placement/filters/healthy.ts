/** A server takes accounts only while its agent is connected and reporting (SPEC §3). */
import type { Filter } from '../types.js';

/** Rejects servers whose agent is not connected or whose last report is stale: "agent not reporting". */
export const healthyFilter = {
  name: 'healthy',
  applies: () => true,
  passes: (server) => server.healthy,
  reason: () => 'agent not reporting',
} as const satisfies Filter;
