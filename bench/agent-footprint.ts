import type { Bench } from './support/figures.js';
/** Stub. */
export const agentFootprintBench: Bench = { name: 'agent-footprint', about: 'todo', run: async () => [] };
