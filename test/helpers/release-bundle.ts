/**
 * The agent as released (deploy/bundle-agent.ts), bundled once per process from this
 * checkout's build into dist/agent-bundle/main.js: what the release tests and the
 * benchmarks run.
 */
import { fileURLToPath } from 'node:url';
import { bundleAgent, type AgentBundle } from '../../deploy/bundle-agent.js';

let bundled: Promise<AgentBundle> | null = null;

/** The release bundle of this build (written on first call). */
export function releaseBundle(): Promise<AgentBundle> {
  bundled ??= bundleAgent({ projectDir: fileURLToPath(new URL('../../..', import.meta.url)) });
  return bundled;
}
