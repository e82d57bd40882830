/**
 * SIGTERM while the controller's copy of a session cannot be written (its temporary file
 * is a FIFO nobody reads, so the writer thread's open never returns, as on a disk that
 * hangs): the stop waits its bound for the copy, says so in the log, closes the database
 * cleanly and ends the process.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Api, ControllerProcess, fixtureConfig, writeConfig } from '../helpers/controller-fixture.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

describe('service: stop with a session copy that cannot be written', function () {
  this.timeout(90_000);
  let dir = '';
  let proc: ControllerProcess | null = null;
  after(() => {
    proc?.kill('SIGKILL');
    if (dir) removeDir(dir);
  });

  it('waits its bound, logs a warning, closes the database and ends by SIGTERM instead of hanging in exit', async () => {
    dir = tempDir('berth-hung-writer-');
    const file = writeConfig(dir, fixtureConfig(dir, [{ id: 'w1' }], { log_level: 'info' }));
    proc = await new ControllerProcess(dir, file).ready();
    const api = Api.for(proc.port);
    expect((await api.post('/accounts', { account_id: 'hung1' })).status).to.equal(202);
    // The first copy this process writes goes through `.<file>.tmp-<pid>-1`.
    execFileSync('mkfifo', [join(dir, 'sessions', `.hung1.session.tmp-${proc.proc.pid}-1`)]);
    const put = api.call('PUT', '/accounts/hung1/session', Buffer.from('bytes'), { 'content-type': 'application/octet-stream' })
      .catch((e: Error) => ({ status: 0, text: e.message }));
    // A thread of the controller waiting in the FIFO's open (wchan, where the kernel shows
    // it); should the kernel hide wchan, 2 s is ample for the request to get there. Were
    // it not there yet, no warning would be logged and the test would fail, not pass.
    const sent = Date.now();
    await waitFor('the writer thread blocked on the FIFO', () => blockedOnFifo(proc!.proc.pid!) || Date.now() - sent > 2000, 10_000, 20);
    const t0 = Date.now();
    proc.kill('SIGTERM');
    // Ended by SIGTERM's default action (systemd counts that a clean stop): exiting
    // normally would wait for ever to join the writer's thread.
    const code = await Promise.race([proc.exited(), new Promise((r) => setTimeout(() => r('still running'), 40_000))]);
    expect(code, 'exit code').to.equal(null);
    expect(proc.proc.signalCode).to.equal('SIGTERM');
    const waited = Date.now() - t0;
    expect((await put).status, 'the PUT was not answered 200').to.not.equal(200);
    const warning = proc.logs().find((l) => l.msg === 'session copies still being written at stop; closing the database without waiting for them');
    expect(warning, 'the warning line').to.include({ waited_ms: 10_000 });
    expect(proc.logs().some((l) => l.msg === 'controller stopped')).to.equal(true);
    expect(waited).to.be.at.least(10_000);
    // Closed cleanly: the database opens, and no digest was recorded for a copy never written.
    const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
    try {
      expect(db.prepare("SELECT session_sha256 FROM accounts WHERE account_id = 'hung1'").get()).to.deep.equal({ session_sha256: null });
    } finally {
      db.close();
    }
  });
});

/** Whether a thread of process `pid` sleeps in a FIFO's open, waiting for a reader. */
function blockedOnFifo(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8') === 'wait_for_partner');
  } catch {
    return false;
  }
}
