/**
 * The agent runs on every worker and must stay small: its import graph may not pull in
 * the controller's stack. The real agent process is run with a loader hook that records
 * every ES module it loads and, at exit, every CommonJS module in the require cache.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { messagesOf, spawnAgent, StandInController, tempDir, waitFor } from './helpers.js';

const HOOKS_SOURCE = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) { appendFileSync(out, url + '\\n'); return next(url, context); }
`;

function preloadSource(out: string): string {
  return `
import { register, createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS_SOURCE)}), { data: { out: ${JSON.stringify(`${out}.esm`)} } });
const require = createRequire(import.meta.url);
process.on('exit', () => {
  writeFileSync(${JSON.stringify(`${out}.cjs`)}, Object.keys(require.cache).join('\\n'));
  writeFileSync(${JSON.stringify(`${out}.builtins`)}, process.moduleLoadList.join('\\n'));
});
`;
}

const FORBIDDEN = [
  { name: 'express', pattern: /\/node_modules\/express\// },
  { name: 'kysely', pattern: /\/node_modules\/kysely\// },
  { name: 'better-sqlite3', pattern: /\/node_modules\/better-sqlite3\// },
  { name: 'ssh2', pattern: /\/node_modules\/ssh2\// },
  { name: 'controller/', pattern: /\/dist\/controller\// },
  // Memory (bench/RESULTS.md, agent footprint): zod 4 loads all its locales (the agent
  // uses zod/v3); on Linux no part of systeminformation is loaded (the agent reads
  // /proc/meminfo and calls statfs itself; lib/memory.js and lib/filesystem.js are its
  // fallbacks elsewhere), and its index, which loads every module it has, never.
  { name: 'zod 4', pattern: /\/node_modules\/zod\/(v4|index\.js|mini)\b/ },
  { name: 'systeminformation (a fallback only, off Linux)', pattern: /\/node_modules\/systeminformation\// },
  // ~1 MB: loaded with the first hook, and this agent has none.
  { name: 'node:child_process', pattern: /^node:child_process$/ },
];

describe('agent import graph', function () {
  this.timeout(20000);

  it('loads ws, zod/v3 and pino but nothing of the controller (express, kysely, better-sqlite3, ssh2), nor zod 4, nor systeminformation on Linux', async () => {
    const tmp = tempDir('berth-agent-imports-');
    const controller = await StandInController.start();
    try {
      const out = join(tmp.path, 'modules');
      const preload = join(tmp.path, 'preload.mjs');
      writeFileSync(preload, preloadSource(out));
      const config = join(tmp.path, 'agent.json');
      writeFileSync(config, JSON.stringify({
        controller_url: controller.baseUrl, node_id: 'worker-01', token: 't0ken', sessions_dir: join(tmp.path, 'sessions'),
      }));
      const agent = spawnAgent(config, { nodeArgs: ['--import', pathToFileURL(preload).href] });
      const conn = await controller.connection(0);
      await waitFor('hello', () => messagesOf(conn, 'hello')[0]);
      conn.send({ type: 'welcome', protocol: PROTOCOL_VERSION, report_interval_ms: 100, lease_ms: 5000, assigned: [] });
      await waitFor('two reports', () => messagesOf(conn, 'report').length >= 2);
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.output()).to.equal(0);

      const commonJs = readFileSync(`${out}.cjs`, 'utf8').split('\n').filter(Boolean);
      const loaded = [
        ...readFileSync(`${out}.esm`, 'utf8').split('\n'),
        ...commonJs,
      ].filter(Boolean).map((u) => (u.startsWith('file:') ? new URL(u).pathname : u));
      // Built-ins however loaded (ESM import or require): child_process waits for a hook.
      const builtins = readFileSync(`${out}.builtins`, 'utf8').split('\n');
      expect(builtins, 'built-ins recorded').to.include('NativeModule net');
      expect(builtins.filter((m) => /^NativeModule (child_process|dgram)$/.test(m)), 'built-ins loaded by an agent without hooks').to.deep.equal([]);
      // Both lists are recorded: CommonJS packages (pino) show in the require cache.
      expect(commonJs.some((p) => /\/node_modules\/pino\//.test(p)), 'pino in the CommonJS list').to.equal(true);
      // The recording works: the agent's own parts and its dependencies are seen.
      for (const wanted of [/\/dist\/agent\/connection\.js$/, /\/dist\/shared\/protocol-schema\.js$/, /\/node_modules\/ws\//, /\/node_modules\/pino\//, /\/node_modules\/zod\//]) {
        expect(loaded.some((p) => wanted.test(p)), `expected a module matching ${wanted}`).to.equal(true);
      }
      for (const { name, pattern } of FORBIDDEN) {
        expect(loaded.filter((p) => pattern.test(p)), `the agent loaded ${name}`).to.deep.equal([]);
      }
    } finally {
      await controller.close();
      tmp.cleanup();
    }
  });
});
