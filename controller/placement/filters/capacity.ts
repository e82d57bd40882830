/** Assigned accounts, including placements in flight, must stay under `max_accounts` (SPEC §3). */
import type { Filter } from '../types.js';

/** Rejects full servers: "full: 5/5 accounts". */
export const capacityFilter = {
  name: 'capacity',
  applies: () => true,
  passes: (server) => server.accounts < server.max_accounts,
  reason: (server) => `full: ${server.accounts}/${server.max_accounts} accounts`,
} as const satisfies Filter;
