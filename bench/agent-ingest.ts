import type { Bench } from './support/figures.js';
/** Stub. */
export const agentIngestBench: Bench = { name: 'agent-ingest', about: 'todo', run: async () => [] };
