/**
 * Helpers for the deploy tests: paths of the checkout, running commands, and the
 * `systemd-analyze` checks an operator would run on an installed unit.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project checkout (this file runs from `<project>/dist/test/deploy/`). */
export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The checkout's deploy/ folder (units, examples, install.sh). */
export const DEPLOY_DIR = path.join(PROJECT_DIR, 'deploy');

/** Outcome of {@link run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; never rejects on a non-zero exit. */
export function run(file: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      });
  });
}

/** A fresh temp directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `berth-${prefix}-`));
}

/**
 * Copies `unitFile` (and its `<unit>.d/` drop-ins, when present) into a temp dir with
 * every `/opt/berth/` path moved under `prefixRoot`, so `systemd-analyze verify` finds
 * the ExecStart binary of a layout installed into a temp root.
 */
export function relocatedUnit(unitFile: string, prefixRoot: string): string {
  const dir = tempDir('verify');
  const name = path.basename(unitFile);
  const text = readFileSync(unitFile, 'utf8').replaceAll('/opt/berth/', `${prefixRoot}/opt/berth/`);
  writeFileSync(path.join(dir, name), text);
  if (existsSync(`${unitFile}.d`)) cpSync(`${unitFile}.d`, path.join(dir, `${name}.d`), { recursive: true });
  return path.join(dir, name);
}

/** `systemd-analyze verify FILE`: exit code and everything it printed. */
export async function verifyUnit(unitFile: string): Promise<RunResult> {
  return run('systemd-analyze', ['verify', unitFile]);
}

/**
 * `systemd-analyze security --offline=true` and its overall exposure figure (0–10,
 * lower is safer). With `root`, the unit and its drop-ins are read from that tree.
 */
export async function exposure(unit: string, root?: string): Promise<number> {
  const args = ['security', '--offline=true', '--no-pager'];
  if (root) args.push(`--root=${root}`);
  const result = await run('systemd-analyze', [...args, unit]);
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.stdout);
  if (!match) throw new Error(`no exposure figure in: ${result.stdout}${result.stderr}`);
  return Number(match[1]);
}

/** Places `unitFile` (a unit of deploy/) under `<root>/etc/systemd/system`, with optional drop-in text. */
export function placeUnit(root: string, unitFile: string, dropIn?: string): void {
  const dir = path.join(root, 'etc', 'systemd', 'system');
  const name = path.basename(unitFile);
  mkdirSync(path.join(dir, `${name}.d`), { recursive: true });
  cpSync(unitFile, path.join(dir, name));
  if (dropIn) writeFileSync(path.join(dir, `${name}.d`, '10-test.conf'), dropIn);
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
