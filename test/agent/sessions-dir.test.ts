import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HookRunner } from '../../agent/hooks.js';
import { FENCED_DIR_NAME, SessionsDir } from '../../agent/sessions-dir.js';
import { silentLogger } from '../../shared/log.js';
import { tempDir, waitFor } from './helpers.js';

describe('agent sessions dir', () => {
  let tmp: { path: string; cleanup: () => void };
  let sessions: string;
  let dir: SessionsDir;

  beforeEach(() => {
    tmp = tempDir('berth-agent-dir-');
    sessions = join(tmp.path, 'sessions');
    mkdirSync(sessions);
    dir = new SessionsDir({ path: sessions, logger: silentLogger() });
  });
  afterEach(() => tmp.cleanup());

  const put = (name: string, body = `bytes of ${name}`): void => writeFileSync(join(sessions, name), body);
  const fencedNames = (): string[] => readdirSync(join(sessions, FENCED_DIR_NAME)).sort();

  it('scans only <id>.session files: no dotfiles, uploads in flight, folders or other names', async () => {
    put('639277356598.session');
    put('alice@example.session');
    put('.639000000001.session.part');
    put('.hidden.session');
    put('notes.txt');
    put('bad id.session');
    mkdirSync(join(sessions, 'folder.session'));
    mkdirSync(join(sessions, FENCED_DIR_NAME));
    writeFileSync(join(sessions, FENCED_DIR_NAME, 'old.session'), 'x');
    expect(await dir.scan()).to.deep.equal(['639277356598', 'alice@example']);
    expect(await dir.scanFenced()).to.deep.equal(['old']);
  });

  it('ensure() creates a missing directory, and scanning a missing one gives nothing', async () => {
    const fresh = new SessionsDir({ path: join(tmp.path, 'a', 'b'), logger: silentLogger() });
    expect(await fresh.scan()).to.deep.equal([]);
    await fresh.ensure();
    expect(existsSync(join(tmp.path, 'a', 'b'))).to.equal(true);
  });

  it('fences every session file into .fenced/ with its bytes, leaving dotfiles alone', async () => {
    put('a1.session', 'A1');
    put('a2.session', 'A2');
    put('.a3.session.part', 'partial');
    const out = await dir.fence();
    expect(out).to.deep.equal({ moved: ['a1', 'a2'], failed: [] });
    expect(await dir.scan()).to.deep.equal([]);
    expect(fencedNames()).to.deep.equal(['a1.session', 'a2.session']);
    expect(readFileSync(join(sessions, FENCED_DIR_NAME, 'a1.session'), 'utf8')).to.equal('A1');
    expect(existsSync(join(sessions, '.a3.session.part'))).to.equal(true);
  });

  it('keeps both copies when a fenced copy of the same name exists; the fresh one takes the name', async () => {
    put('a1.session', 'old copy');
    await dir.fence();
    put('a1.session', 'new copy');
    await dir.fence();
    put('a1.session', 'newest copy');
    await dir.fence(['a1']);
    const names = fencedNames();
    expect(names).to.have.length(3);
    expect(names[0]).to.equal('a1.session');
    expect(readFileSync(join(sessions, FENCED_DIR_NAME, 'a1.session'), 'utf8')).to.equal('newest copy');
    const asides = names.slice(1).map((n) => readFileSync(join(sessions, FENCED_DIR_NAME, n), 'utf8')).sort();
    expect(asides).to.deep.equal(['new copy', 'old copy']);
    for (const n of names.slice(1)) expect(n).to.match(/^a1\.session\.fenced-/);
  });

  it('fencing a file that vanished meanwhile is not a failure', async () => {
    put('a1.session');
    expect(await dir.fence(['a1', 'gone'])).to.deep.equal({ moved: ['a1'], failed: [] });
  });

  it('restores only the fenced files still assigned and never over a live file', async () => {
    put('a1.session', 'A1');
    put('a2.session', 'A2');
    put('a3.session', 'A3');
    await dir.fence();
    put('a3.session', 'uploaded again by the controller');
    const out = await dir.restore(['a1', 'a3', 'not-here']);
    expect(out).to.deep.equal({ moved: ['a1'], failed: [] });
    expect(await dir.scan()).to.deep.equal(['a1', 'a3']);
    expect(readFileSync(join(sessions, 'a1.session'), 'utf8')).to.equal('A1');
    expect(readFileSync(join(sessions, 'a3.session'), 'utf8')).to.equal('uploaded again by the controller');
    expect(fencedNames()).to.deep.equal(['a2.session', 'a3.session']);
  });
});

describe('agent hooks', () => {
  let tmp: { path: string; cleanup: () => void };
  beforeEach(() => (tmp = tempDir('berth-agent-hooks-')));
  afterEach(() => tmp.cleanup());

  it('runs /bin/sh -c HOOK with the account id as $1 and BERTH_ACCOUNT_ID, logging the exit code', async () => {
    const marks = tmp.path;
    const runner = new HookRunner({
      hooks: {
        on_assign: `printf '%s|%s|%s' "$0" "$1" "$BERTH_ACCOUNT_ID" > "${marks}/assign-$1"`,
        on_unassign: `touch "${marks}/unassign-$BERTH_ACCOUNT_ID"; exit 3`,
      },
      env: { PATH: process.env.PATH },
      logger: silentLogger(),
    });
    const assigned = await runner.run('on_assign', '639277356598');
    expect(assigned).to.include({ exit_code: 0, account_id: '639277356598' });
    expect(readFileSync(join(marks, 'assign-639277356598'), 'utf8')).to.equal('berth-hook|639277356598|639277356598');
    const unassigned = await runner.run('on_unassign', 'a1');
    expect(unassigned).to.include({ exit_code: 3 });
    expect(existsSync(join(marks, 'unassign-a1'))).to.equal(true);
  });

  it('does not block the event loop and keeps an account\'s hooks in order', async () => {
    const log = join(tmp.path, 'order.log');
    const runner = new HookRunner({
      hooks: { on_assign: `sleep 0.3; echo "assign $1" >> "${log}"`, on_unassign: `echo "unassign $1" >> "${log}"` },
      env: { PATH: process.env.PATH },
      logger: silentLogger(),
    });
    const first = runner.run('on_assign', 'a1');
    const second = runner.run('on_unassign', 'a1');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await Promise.all([first, second]);
    clearInterval(timer);
    // A blocked loop would tick once at most; a free one about 30 times (3 on a starved CPU).
    expect(ticks).to.be.greaterThan(2, 'timers kept firing while the hook ran');
    expect(readFileSync(log, 'utf8')).to.equal('assign a1\nunassign a1\n');
  });

  it('a hook that cannot run or is not configured never throws', async () => {
    const runner = new HookRunner({
      hooks: { on_assign: 'exec /nonexistent/binary', on_unassign: null },
      env: {},
      logger: silentLogger(),
    });
    const outcome = await runner.run('on_assign', 'a1');
    expect(outcome?.exit_code).to.equal(127);
    expect(await runner.run('on_unassign', 'a1')).to.equal(null);
    await waitFor('idle', async () => (await runner.idle(), true));
  });

  it('kills a hook that outlives its timeout', async () => {
    const runner = new HookRunner({
      hooks: { on_assign: 'sleep 30', on_unassign: null },
      env: { PATH: process.env.PATH },
      logger: silentLogger(),
      timeoutMs: 200,
    });
    const outcome = await runner.run('on_assign', 'a1');
    expect(outcome).to.include({ exit_code: null, signal: 'SIGKILL' });
  });
});
