/**
 * `npm run package`: builds the release tarballs in `release/` (or `--out DIR`).
 *
 * - `berth-controller-<version>.tar.gz`: dist/ without tests, bench and this script;
 *   package.json, package-lock.json; the production dependency tree from
 *   package-lock.json (native addons keep only their compiled `.node` files, so the
 *   tarball is for the build host's platform and Node ABI); `bin/berth-controller`;
 *   deploy/ (units, examples, install.sh).
 * - `berth-agent-<version>.tar.gz`: a self-contained agent: dist/agent/main.js is the
 *   one-file bundle of deploy/bundle-agent.ts (our files, ws and zod), node_modules holds
 *   only the packages it loads lazily from outside (systeminformation, the fallback off
 *   Linux), THIRD_PARTY_LICENSES the bundled packages' licences; `bin/berth-agent`;
 *   deploy/. Needs only `node` (>= 20).
 *
 * Run after `npm run build` (which compiles this file to dist/deploy/package.js).
 * `--only agent` (or `controller`) builds just that tarball.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync,
  readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS, LAUNCHER_ENV_VAR } from '../agent/node-flags.js';
import { bundleAgent } from './bundle-agent.js';
import {
  dependencyClosure, importGraph, productionRoots, readLockfile, type Lockfile,
} from './package-deps.js';

/** The two release components. */
export type Component = 'controller' | 'agent';

/** Options of {@link buildReleases}. */
export interface PackageOptions {
  /** The project checkout holding dist/, node_modules/, package-lock.json. */
  projectDir: string;
  /** Where the tarballs go. @defaultValue `<projectDir>/release` */
  outDir?: string;
  /** Which tarballs to build. @defaultValue both */
  components?: readonly Component[];
}

/** One written tarball. */
export interface Release {
  component: Component;
  file: string;
  /** Size of the .tar.gz in bytes. */
  bytes: number;
  /** Size of the unpacked tree in bytes. */
  unpackedBytes: number;
  /** Lock keys (`node_modules/…`) of the bundled npm packages. */
  packages: string[];
}

/** Files of deploy/ that every release carries. */
export const DEPLOY_FILES = [
  'berth-controller.service', 'berth-agent.service', 'master_config.example.json',
  'agent.example.json', 'berth.env.example', 'install.sh',
] as const;

const SKIPPED_DIST_DIRS = new Set(['test', 'bench', 'deploy', 'agent-bundle']);
const SKIPPED_PACKAGE_DIRS = new Set(['.github', 'test', 'tests', '__tests__', 'docs',
  'example', 'examples', 'benchmark', 'benchmarks', 'bench', 'node_modules']);

/** Builds both tarballs and returns what was written. */
export async function buildReleases(options: PackageOptions): Promise<Release[]> {
  const projectDir = path.resolve(options.projectDir);
  const outDir = path.resolve(options.outDir ?? path.join(projectDir, 'release'));
  const pkg = JSON.parse(readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as
    { version: string; license?: string; engines?: Record<string, string> };
  const lock = readLockfile(path.join(projectDir, 'package-lock.json'));
  for (const needed of ['dist/controller/main.js', 'dist/agent/main.js']) {
    if (!existsSync(path.join(projectDir, needed))) {
      throw new Error(`${needed} missing: run \`npm run build\` first`);
    }
  }
  mkdirSync(outDir, { recursive: true });
  const staging = mkdtempSync(path.join(os.tmpdir(), 'berth-package-'));
  try {
    const wanted = new Set(options.components ?? ['controller', 'agent']);
    return [
      ...(wanted.has('controller') ? [stageController(projectDir, staging, outDir, pkg.version, lock)] : []),
      ...(wanted.has('agent') ? [await stageAgent(projectDir, staging, outDir, pkg, lock)] : []),
    ];
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function stageController(
  projectDir: string, staging: string, outDir: string, version: string, lock: Lockfile,
): Release {
  const name = `berth-controller-${version}`;
  const root = path.join(staging, name);
  const dist = path.join(projectDir, 'dist');
  for (const entry of readdirSync(dist)) {
    if (SKIPPED_DIST_DIRS.has(entry)) continue;
    cpSync(path.join(dist, entry), path.join(root, 'dist', entry), {
      recursive: true, filter: (src) => !src.endsWith('.map'),
    });
  }
  copyFileSync(path.join(projectDir, 'package.json'), path.join(root, 'package.json'));
  copyFileSync(path.join(projectDir, 'package-lock.json'), path.join(root, 'package-lock.json'));
  const packages = dependencyClosure(lock, productionRoots(lock));
  copyPackages(projectDir, root, packages);
  writeLauncher(root, 'controller');
  copyDeployFiles(projectDir, root);
  return archive('controller', staging, name, outDir, packages);
}

async function stageAgent(
  projectDir: string, staging: string, outDir: string,
  pkg: { version: string; license?: string; engines?: Record<string, string> }, lock: Lockfile,
): Promise<Release> {
  const name = `berth-agent-${pkg.version}`;
  const root = path.join(staging, name);
  const bundle = await bundleAgent({ projectDir, outFile: path.join(root, 'dist', 'agent', 'main.js') });
  // What the bundle still loads from node_modules (the lazily required fallbacks).
  const packages = dependencyClosure(lock, importGraph(bundle.file).packages);
  copyPackages(projectDir, root, packages);
  writeLicenses(projectDir, path.join(root, 'THIRD_PARTY_LICENSES'), bundle.packages);
  const manifest = {
    name: 'berth-agent', version: pkg.version, private: true, type: 'module',
    license: pkg.license, engines: pkg.engines, bin: { 'berth-agent': 'bin/berth-agent' },
  };
  writeFileSync(path.join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeLauncher(root, 'agent');
  copyDeployFiles(projectDir, root);
  return archive('agent', staging, name, outDir, packages);
}

/** The licence texts of the packages inlined in the bundle, one after another. */
function writeLicenses(projectDir: string, file: string, packages: readonly string[]): void {
  const parts = packages.map((name) => {
    const dir = path.join(projectDir, 'node_modules', name);
    const licence = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = licence ? readFileSync(path.join(dir, licence), 'utf8').trim() : '(no licence file in the package)';
    const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
    return `${name} ${version}\n\n${text}\n`;
  });
  writeFileSync(file, `Packages bundled into dist/agent/main.js\n\n${parts.join('\n---\n\n')}`);
}

/** Copies installed packages by lock key, each without its nested node_modules. */
function copyPackages(projectDir: string, root: string, keys: readonly string[]): void {
  for (const key of keys) {
    const from = path.join(projectDir, key);
    if (!existsSync(from)) continue; // optional dependency not installed on this host
    const addons = addonDirs(from);
    cpSync(from, path.join(root, key), {
      recursive: true,
      filter: (src) => keepPackageFile(path.relative(from, src), addons),
    });
  }
}

/**
 * Folders of a package (relative, '' for its root) holding a native addon's
 * `binding.gyp`: the package root (better-sqlite3) or deeper (ssh2's optional cipher
 * binding in lib/protocol/crypto).
 */
function addonDirs(packageDir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(packageDir, rel), { withFileTypes: true })) {
      if (e.isFile() && e.name === 'binding.gyp') found.push(rel);
      else if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'build' && !SKIPPED_PACKAGE_DIRS.has(e.name)) walk(path.join(rel, e.name));
    }
  };
  walk('');
  return found;
}

/** Whether a file (relative to its package root) belongs in a release. */
function keepPackageFile(rel: string, addons: readonly string[]): boolean {
  if (rel === '') return true;
  const parts = rel.split(path.sep);
  if (SKIPPED_PACKAGE_DIRS.has(parts[0]!)) return false;
  for (const dir of addons) {
    const inner = dir === '' ? parts : path.relative(dir, rel).split(path.sep);
    if (inner[0] === '..') continue; // outside this addon's folder
    // Only the compiled addon is needed at run time: no C sources, no build tree.
    if (inner[0] === 'deps' || inner[0] === 'src') return false;
    if (inner[0] === 'build') {
      if (inner.length === 1 || (inner.length === 2 && inner[1] === 'Release')) return true;
      return inner.length === 3 && inner[1] === 'Release' && rel.endsWith('.node') &&
        !inner[2]!.startsWith('test_');
    }
  }
  const base = parts[parts.length - 1]!;
  if (/\.(d\.[cm]?ts|[cm]?ts|map|md|markdown)$/i.test(base) && !/^licen[cs]e/i.test(base)) {
    return false;
  }
  return true;
}

/** Node flags each launcher passes (`BERTH_NODE_FLAGS` replaces them). */
const NODE_FLAGS: Partial<Record<Component, readonly string[]>> = { agent: AGENT_NODE_FLAGS };
/** Environment each launcher sets unless already set. */
const LAUNCH_ENV: Partial<Record<Component, Readonly<Record<string, string>>>> = { agent: AGENT_MALLOC_ENV };

/** `bin/berth-<component>`: runs the bundled entry with the `node` on PATH or $BERTH_NODE. */
function writeLauncher(root: string, component: Component): void {
  const file = path.join(root, 'bin', `berth-${component}`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh
# Berth ${component} launcher: runs dist/${component}/main.js from this release with
# the node (>= 20) found on PATH, or with $BERTH_NODE when set.
self=$(readlink -f "$0" 2>/dev/null || echo "$0")
root=$(cd "$(dirname "$self")/.." && pwd)
node=\${BERTH_NODE:-$(command -v node || true)}
if [ -z "$node" ]; then
  echo "berth-${component}: node (>= 20) not found; install Node.js or set BERTH_NODE" >&2
  exit 127
fi
${launcherEnv(LAUNCH_ENV[component] ?? {})}flags=\${BERTH_NODE_FLAGS-${(NODE_FLAGS[component] ?? []).join(' ')}}
# A node that refuses a flag (V8 drops experimental ones) would not start at all.
if [ -n "$flags" ] && ! "$node" $flags -e 0 >/dev/null 2>&1; then
  echo "berth-${component}: $node refuses the flags '$flags'; starting without them" >&2
  flags=
fi
exec "$node" $flags "$root/dist/${component}/main.js" "$@"
`);
  chmodSync(file, 0o755);
}

/**
 * Shell lines that set each variable unless the environment already has it, and list
 * the ones they set in LAUNCHER_ENV_VAR (the agent keeps those out of its hooks).
 */
function launcherEnv(vars: Readonly<Record<string, string>>): string {
  const lines = Object.entries(vars).map(([k, v]) =>
    `if [ -z "\${${k}+set}" ]; then export ${k}=${v}; ${LAUNCHER_ENV_VAR}="\${${LAUNCHER_ENV_VAR}:+$${LAUNCHER_ENV_VAR} }${k}"; fi\n`);
  return lines.length ? `${lines.join('')}export ${LAUNCHER_ENV_VAR}\n` : '';
}

function copyDeployFiles(projectDir: string, root: string): void {
  mkdirSync(path.join(root, 'deploy'), { recursive: true });
  for (const file of DEPLOY_FILES) {
    const target = path.join(root, 'deploy', file);
    copyFileSync(path.join(projectDir, 'deploy', file), target);
    if (file === 'install.sh') chmodSync(target, 0o755);
  }
}

function archive(
  component: Component, staging: string, name: string, outDir: string, packages: string[],
): Release {
  const file = path.join(outDir, `${name}.tar.gz`);
  execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-czf', file,
    '-C', staging, name], { stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    component, file, bytes: statSync(file).size,
    unpackedBytes: treeBytes(path.join(staging, name)), packages,
  };
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(full) : statSync(full).size;
  }
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(argv: string[]): Promise<void> {
  const outIndex = argv.indexOf('--out');
  const outDir = outIndex >= 0 ? argv[outIndex + 1] : undefined;
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex >= 0 ? argv[onlyIndex + 1] : undefined;
  if ((outIndex >= 0 && !outDir) || (onlyIndex >= 0 && only !== 'controller' && only !== 'agent')) {
    throw new Error('usage: package.js [--out DIR] [--only controller|agent]');
  }
  const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  for (const release of await buildReleases({ projectDir, outDir, ...(only ? { components: [only as Component] } : {}) })) {
    console.log(`${path.relative(process.cwd(), release.file)}  ${mib(release.bytes)}` +
      ` (unpacked ${mib(release.unpackedBytes)}, ${release.packages.length} npm packages)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(`package: ${error.message}`);
    process.exit(1);
  });
}
