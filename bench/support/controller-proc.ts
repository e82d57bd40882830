/**
 * A controller (or the baseline's controller) as its own process, for benchmarks that
 * measure it from outside: its pid for /proc, its port from the "controller listening"
 * log line, and a graceful stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CONTROLLER_MAIN } from '../../test/helpers/controller-fixture.js';
import { waitFor } from '../../test/helpers/wait.js';

/** A running controller process. */
export class BenchController {
  readonly proc: ChildProcess;
  port = 0;
  /** The last few hundred log lines (JSON), kept for diagnostics. */
  readonly tail: string[] = [];
  #listening: string | null = null;

  constructor(options: { configFile: string; cwd: string; script?: string; nodeArgs?: string[] }) {
    this.proc = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script ?? CONTROLLER_MAIN, '--config', options.configFile], {
      cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (this.#listening === null && line.includes('"controller listening"')) this.#listening = line;
        this.tail.push(line);
        if (this.tail.length > 400) this.tail.splice(0, 200);
      }
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Waits for the listening line and reads the port. */
  async ready(timeoutMs = 30_000): Promise<this> {
    const line = await waitFor('controller to listen', () => {
      if (this.proc.exitCode !== null) throw new Error(`controller exited ${this.proc.exitCode}: ${this.tail.slice(-5).join(' | ')}`);
      return this.#listening;
    }, timeoutMs);
    this.port = Number(String((JSON.parse(line) as { listen: string }).listen).split(':').pop());
    return this;
  }

  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const force = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
}
