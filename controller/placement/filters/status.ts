/** Only `active` servers take new accounts (SPEC §2 status). */
import type { Filter } from '../types.js';

/** Rejects servers whose status is not `active`: "status is draining". */
export const statusFilter = {
  name: 'status',
  applies: () => true,
  passes: (server) => server.status === 'active',
  reason: (server) => `status is ${server.status}`,
} as const satisfies Filter;
