/**
 * Works out which files a release needs without a bundler: the JavaScript reachable
 * from an entry point (following relative imports) and the npm packages it imports,
 * closed over package-lock.json's dependency tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';

/** One entry of package-lock.json v3's `packages` map. */
export interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** package-lock.json v3, as far as packaging reads it. */
export interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
}

/** What an entry point reaches: its own files and the npm packages it imports. */
export interface ImportGraph {
  /** Absolute paths of the reachable JavaScript files. */
  files: string[];
  /** Names of the npm packages imported anywhere in them (e.g. `ws`, `@pinojs/redact`). */
  packages: string[];
}

const SPECIFIER_PATTERNS = [
  /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  // `require(…)` and renamed requires such as esbuild's `require2(…)` for a module's own
  // `const require = createRequire(import.meta.url)` inside a bundle.
  /\brequire\d*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/**
 * Follows relative imports from `entry` (compiled ESM) and collects bare specifiers.
 * Node built-ins are left out.
 */
export function importGraph(entry: string): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [path.resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    if (!existsSync(file)) throw new Error(`import graph: ${file} does not exist`);
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const pattern of SPECIFIER_PATTERNS) {
      for (const match of source.matchAll(pattern)) {
        const spec = match[1]!;
        if (spec.startsWith('.') || spec.startsWith('/')) {
          queue.push(path.resolve(path.dirname(file), spec));
        } else if (!isBuiltin(spec)) {
          packages.add(packageName(spec));
        }
      }
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Reads and checks a package-lock.json (v2 or v3, which carry the `packages` map). */
export function readLockfile(file: string): Lockfile {
  const lock = JSON.parse(readFileSync(file, 'utf8')) as Lockfile;
  if (typeof lock.packages !== 'object' || lock.lockfileVersion < 2) {
    throw new Error(`${file}: lockfileVersion 2 or 3 required`);
  }
  return lock;
}

/**
 * Resolves `name` as Node would from the package installed at `from` (a lock key such
 * as `node_modules/a/node_modules/b`, or `''` for the project root): the nearest
 * `node_modules/name` walking up.
 */
function resolveInLock(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/**
 * The lock keys (`node_modules/…` paths) of `roots` and everything they depend on,
 * including optional dependencies that are installed. A root missing from the lock is
 * an error; a missing optional dependency is not.
 */
export function dependencyClosure(lock: Lockfile, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const queue: string[] = [];
  for (const root of roots) {
    const key = resolveInLock(lock, '', root);
    if (!key) throw new Error(`package-lock.json has no ${root}`);
    queue.push(key);
  }
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = lock.packages[key]!;
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of wanted) {
      const dep = resolveInLock(lock, key, name);
      if (dep) queue.push(dep);
      else if (!optional) throw new Error(`package-lock.json: ${key} needs ${name}, not found`);
    }
  }
  return [...seen].sort();
}

/** The production dependency names of the project (the root entry's `dependencies`). */
export function productionRoots(lock: Lockfile): string[] {
  return Object.keys(lock.packages['']?.dependencies ?? {}).sort();
}
