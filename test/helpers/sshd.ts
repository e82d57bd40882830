/**
 * Test fixture: a real OpenSSH `sshd` on a loopback address, with throwaway host and
 * client keys in a temp dir, plus a TCP "black hole" that accepts and never speaks SSH.
 * Several fixtures can run side by side on 127.0.0.2, 127.0.0.3, …
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** Loopback address to listen on. @defaultValue '127.0.0.2' */
  host?: string;
  /** Port; 0 picks a free one. @defaultValue 0 */
  port?: number;
}

const SSHD = '/usr/sbin/sshd';
const running = new Set<SshdFixture>();
let exitHookInstalled = false;

/** A running sshd and what a client needs to reach it. */
export class SshdFixture {
  readonly host: string;
  readonly port: number;
  readonly user = 'root';
  /** Temp dir holding keys, config and logs. */
  readonly dir: string;
  readonly privateKeyPath: string;
  readonly privateKey: Buffer;
  /** A fresh directory to use as `deploy_dir`; sessions go in `<deployDir>/sessions`. */
  readonly deployDir: string;
  /** The current host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:…`). */
  hostKeyFingerprint = '';
  #proc: ChildProcess | null = null;
  #log: string[] = [];

  constructor(host: string, port: number, dir: string) {
    this.host = host;
    this.port = port;
    this.dir = dir;
    this.privateKeyPath = join(dir, 'client_key');
    this.deployDir = join(dir, 'deploy');
    mkdirSync(this.deployDir);
    keygen(this.privateKeyPath);
    this.privateKey = readFileSync(this.privateKeyPath);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${this.privateKeyPath}.pub`));
    this.#newHostKey();
    writeFileSync(join(dir, 'sshd_config'), [
      `ListenAddress ${host}:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no', 'UsePAM no', 'PermitRootLogin yes', 'PubkeyAuthentication yes',
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UseDNS no',
      'MaxStartups 100', 'MaxSessions 50', 'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp', '',
    ].join('\n'));
  }

  /** sshd's log lines (its stderr) since the fixture was created. */
  logLines(): string[] {
    return this.#log.join('').split(/\r?\n/).filter((l) => l.length > 0);
  }

  /** How many SSH logins sshd accepted so far (its "Accepted publickey" lines). */
  acceptedLogins(): number {
    return this.logLines().filter((l) => /Accepted publickey for /.test(l)).length;
  }

  /** Starts sshd (same keys and port) and waits until it answers with an SSH banner. */
  async start(): Promise<void> {
    if (this.#proc) return;
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const proc = spawn(SSHD, ['-D', '-e', '-f', join(this.dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => this.#log.push(d));
    proc.once('exit', () => {
      if (this.#proc === proc) this.#proc = null;
    });
    running.add(this);
    installExitHook();
    const deadline = Date.now() + 10_000;
    while (!(await answersSsh(this.host, this.port))) {
      if (this.#proc !== proc) throw new Error(`sshd exited: ${this.logLines().slice(-5).join(' | ')}`);
      if (Date.now() > deadline) throw new Error(`sshd on ${this.host}:${this.port} did not start`);
      await sleep(50);
    }
  }

  /** Stops sshd and every connection it serves (the server is "down"); idempotent. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
  }

  /** Kills sshd and its connections with SIGKILL; idempotent. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL');
  }

  /** Freezes sshd and its connections (SIGSTOP): TCP still connects but nothing answers. */
  pause(): void {
    for (const pid of this.processIds()) signal(pid, 'SIGSTOP');
  }

  /** Undoes {@link pause}. */
  resume(): void {
    for (const pid of this.processIds()) signal(pid, 'SIGCONT');
  }

  /** Replaces the host key and restarts sshd; returns the new fingerprint. */
  async rotateHostKey(): Promise<string> {
    await this.stop();
    this.#newHostKey();
    await this.start();
    return this.hostKeyFingerprint;
  }

  /** Stops sshd and removes the temp dir. */
  async dispose(): Promise<void> {
    await this.kill();
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Pids of sshd and of every connection process it forked. */
  processIds(): number[] {
    const pid = this.#proc?.pid;
    return pid === undefined ? [] : [pid, ...descendants(pid)];
  }

  async #terminate(sig: NodeJS.Signals): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    // Connection processes are children of the listener and outlive it: end them first,
    // while the listener is still there to reap them, then the listener.
    const children = descendants(proc.pid!);
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    for (const pid of children.reverse()) {
      signal(pid, 'SIGCONT');
      signal(pid, sig);
    }
    const deadline = Date.now() + 5000;
    while (children.some(alive) && Date.now() < deadline) await sleep(20);
    signal(proc.pid!, 'SIGCONT');
    signal(proc.pid!, sig);
    await exited;
    this.#proc = null;
  }

  #newHostKey(): void {
    const keyPath = join(this.dir, 'host_key');
    rmSync(keyPath, { force: true });
    rmSync(`${keyPath}.pub`, { force: true });
    keygen(keyPath);
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyPath}.pub`], { encoding: 'utf8' });
    const fp = /(SHA256:\S+)/.exec(out)?.[1];
    if (!fp) throw new Error(`cannot read host key fingerprint from: ${out}`);
    this.hostKeyFingerprint = fp;
  }
}

/** Starts a real sshd on a loopback address (a free port unless given). */
export async function startSshd(options: SshdOptions = {}): Promise<SshdFixture> {
  const host = options.host ?? '127.0.0.2';
  for (let attempt = 0; ; attempt++) {
    const port = options.port || (await freePort(host));
    const fixture = new SshdFixture(host, port, mkdtempSync(join(tmpdir(), 'berth-sshd-')));
    try {
      await fixture.start();
      return fixture;
    } catch (e) {
      await fixture.dispose();
      if (options.port || attempt >= 2) throw e;
    }
  }
}

/** A TCP listener that accepts connections and never says a word. */
export interface BlackHole {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** Starts a {@link BlackHole} on a loopback address. */
export async function startBlackHole(host = '127.0.0.2'): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, host, () => res()));
  const port = (server.address() as { port: number }).port;
  return {
    host, port,
    accepted: () => accepted,
    close: () => new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
    }),
  };
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth-test', '-f', path], { stdio: 'ignore' });
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, host, () => res()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

function answersSsh(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
  });
}

/** Pids of every process below `root`, read from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const f of running) for (const pid of f.processIds()) signal(pid, 'SIGKILL');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
