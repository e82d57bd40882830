/**
 * The agent as it is released: dist/agent/main.js and everything it imports (our files,
 * ws, zod) bundled by esbuild into one ES module, `dist/agent-bundle/main.js` by default,
 * which `npm run package` ships as the release's `dist/agent/main.js` and the benchmarks
 * run. Not minified: names and lines in a stack trace stay readable.
 *
 * Why (bench/RESULTS.md, agent footprint; the agent's budget is 50 MB and an idle bare
 * `node` already takes about 43 MB):
 * - one module instead of about forty: Node's loader keeps less per module;
 * - `https`, `tls` and `zlib` become lazy. ws requires them when it loads, but uses
 *   `https`/`tls` only for a `wss://` controller and `zlib` only with permessage-deflate,
 *   which the agent turns off. In the bundle each is a stand-in that loads the real
 *   module on first use, so an agent talking plain `http://` never loads TLS.
 *
 * The lazily `require`d fallbacks (systeminformation off Linux, `node:child_process`
 * for hooks) stay outside the bundle: they are loaded through `createRequire`, which
 * esbuild leaves alone, so a release still ships systeminformation in node_modules.
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

/** Built-ins the bundle loads on first use instead of at start. */
export const LAZY_BUILTINS: readonly string[] = Object.freeze(['https', 'tls', 'zlib']);

/** What {@link bundleAgent} wrote. */
export interface AgentBundle {
  /** Absolute path of the bundle. */
  file: string;
  /** npm packages inlined in it (e.g. `ws`, `zod`), sorted. */
  packages: string[];
  /** Every file inlined, as absolute paths, sorted. */
  inputs: string[];
}

const LAZY_NAMESPACE = 'berth-lazy-builtin';

/** A CommonJS stand-in for built-in `name`: the real module is loaded by the first property read. */
function lazyModuleSource(name: string): string {
  return `let real;
const load = () => (real ??= require('node:${name}'));
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
});
`;
}

const lazyBuiltins: Plugin = {
  name: 'lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    // Only `require()` calls (ws's): an `import { connect } from 'node:tls'` would read
    // the stand-in's properties through esbuild's interop helpers and get undefined.
    build.onResolve({ filter }, (args) => (args.namespace === LAZY_NAMESPACE || args.kind !== 'require-call'
      ? undefined
      : { path: args.path.replace(/^node:/, ''), namespace: LAZY_NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: LAZY_NAMESPACE }, (args) => ({ contents: lazyModuleSource(args.path), loader: 'js' }));
  },
};

/**
 * Bundles `<projectDir>/dist/agent/main.js` (run `npm run build` first) into `outFile`
 * (default `<projectDir>/dist/agent-bundle/main.js`). The bundle resolves
 * `../../package.json` and node_modules from where it is written, as the release
 * layout and the project's own layout both allow.
 */
export async function bundleAgent(options: { projectDir: string; outFile?: string }): Promise<AgentBundle> {
  const projectDir = path.resolve(options.projectDir);
  const file = path.resolve(options.outFile ?? path.join(projectDir, 'dist', 'agent-bundle', 'main.js'));
  mkdirSync(path.dirname(file), { recursive: true });
  const result = await build({
    entryPoints: [path.join(projectDir, 'dist', 'agent', 'main.js')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // ws is CommonJS: its require() calls need a require in an ES module.
    banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module';\nconst require = __berthCreateRequire(import.meta.url);" },
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
    plugins: [lazyBuiltins],
  });
  // Files only: the lazy stand-ins are inputs of their own namespace (`berth-lazy-builtin:tls`).
  const inputs = Object.keys(result.metafile.inputs).filter((i) => !i.includes(':')).map((i) => path.resolve(i)).sort();
  const packages = new Set(inputs.flatMap((i) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? []));
  return { file, packages: [...packages].sort(), inputs };
}
