import type { Bench } from './support/figures.js';
/** Stub. */
export const failoverBench: Bench = { name: 'failover', about: 'todo', run: async () => [] };
