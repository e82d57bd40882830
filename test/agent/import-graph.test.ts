/**
 * The agent runs on every worker and must stay small: its import graph may not pull in
 * the controller's stack. The real agent process, both as compiled (dist/agent/main.js)
 * and as released (the one-file bundle of deploy/bundle-agent.ts), is run with a loader
 * hook that records every ES module it loads and, at exit, every CommonJS module in the
 * require cache and every built-in however loaded.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { releaseBundle } from '../helpers/release-bundle.js';
import { AGENT_MAIN, messagesOf, spawnAgent, StandInController, tempDir, waitFor } from './helpers.js';

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
  // The agent logs with shared/line-logger.ts; pino (and the worker-thread machinery
  // its transports load) is the controller's.
  { name: 'pino', pattern: /\/node_modules\/(pino|thread-stream|sonic-boom)\// },
];

interface Loaded {
  /** ES modules and CommonJS modules, as paths (files) or `node:` ids. */
  modules: string[];
  /** The CommonJS part alone (the require cache at exit). */
  commonJs: string[];
  /** process.moduleLoadList at exit: `NativeModule tls`, `Internal Binding fs`, …. */
  builtins: string[];
}

/** Runs `script` against a stand-in controller over plain http until two reports, then SIGTERM; what it loaded. */
async function recordLoads(script: string): Promise<Loaded> {
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
    const agent = spawnAgent(config, { script, nodeArgs: ['--import', pathToFileURL(preload).href] });
    const conn = await controller.connection(0);
    await waitFor('hello', () => messagesOf(conn, 'hello')[0]);
    conn.send({ type: 'welcome', protocol: PROTOCOL_VERSION, report_interval_ms: 100, lease_ms: 5000, assigned: [] });
    await waitFor('two reports', () => messagesOf(conn, 'report').length >= 2);
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code, agent.output()).to.equal(0);
    const commonJs = readFileSync(`${out}.cjs`, 'utf8').split('\n').filter(Boolean);
    const modules = [
      ...readFileSync(`${out}.esm`, 'utf8').split('\n'),
      ...commonJs,
    ].filter(Boolean).map((u) => (u.startsWith('file:') ? new URL(u).pathname : u));
    return { modules, commonJs, builtins: readFileSync(`${out}.builtins`, 'utf8').split('\n') };
  } finally {
    await controller.close();
    tmp.cleanup();
  }
}

/** The forbidden modules `loaded` holds, by name (empty when none). */
function forbiddenIn(loaded: Loaded): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const { name, pattern } of FORBIDDEN) {
    const hits = loaded.modules.filter((p) => pattern.test(p));
    if (hits.length > 0) found[name] = hits;
  }
  return found;
}

describe('agent import graph', function () {
  this.timeout(30000);

  it('as compiled: loads ws and zod/v3 but nothing of the controller (express, kysely, better-sqlite3, ssh2), nor pino, zod 4, or systeminformation on Linux', async () => {
    const loaded = await recordLoads(AGENT_MAIN);
    // The recording works: the agent's own parts and its dependencies are seen, in
    // both lists (ws is CommonJS, so it shows in the require cache).
    for (const wanted of [/\/dist\/agent\/connection\.js$/, /\/dist\/shared\/protocol-schema\.js$/, /\/dist\/shared\/line-logger\.js$/, /\/node_modules\/ws\//, /\/node_modules\/zod\//]) {
      expect(loaded.modules.some((p) => wanted.test(p)), `expected a module matching ${wanted}`).to.equal(true);
    }
    // Both lists are recorded: ws's CommonJS files show in the require cache.
    expect(loaded.commonJs.some((p) => /\/node_modules\/ws\/lib\/receiver\.js$/.test(p)), 'ws in the CommonJS list').to.equal(true);
    expect(loaded.builtins, 'built-ins recorded').to.include('NativeModule net');
    expect(loaded.builtins.filter((m) => /^NativeModule (child_process|dgram)$/.test(m)), 'built-ins loaded by an agent without hooks').to.deep.equal([]);
    expect(forbiddenIn(loaded)).to.deep.equal({});
  });

  it('as released (one bundle): no module file but the bundle, and over http neither TLS, https nor zlib', async () => {
    const bundle = await releaseBundle();
    // What is inlined: the forbidden packages cannot show as files of their own here.
    expect(bundle.packages).to.deep.equal(['ws', 'zod']);
    expect(bundle.inputs.some((p) => /\/dist\/agent\/connection\.js$/.test(p)), 'inputs listed').to.equal(true);
    expect(forbiddenIn({ modules: bundle.inputs, commonJs: [], builtins: [] }), 'inlined in the bundle').to.deep.equal({});
    const loaded = await recordLoads(bundle.file);
    const files = loaded.modules.filter((p) => p.startsWith('/'));
    // The preload itself is recorded too.
    expect(files.filter((p) => !p.endsWith('/preload.mjs'))).to.deep.equal([bundle.file]);
    expect(loaded.builtins, 'built-ins recorded').to.include('NativeModule http');
    // ws requires these at load; in the bundle they wait for a wss:// URL (tls.test.ts) or permessage-deflate.
    expect(loaded.builtins.filter((m) => /^NativeModule (tls|_tls_wrap|https|zlib|child_process|dgram)$/.test(m))).to.deep.equal([]);
    expect(forbiddenIn(loaded)).to.deep.equal({});
  });
});
