/**
 * The real compiled agent (`node dist/agent/main.js --config FILE`) against a real
 * WebSocket server standing in for the controller's agent endpoint.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION, type ReportMessage } from '../../shared/protocol.js';
import { messagesOf, spawnAgent, StandInController, tempDir, waitFor, type AgentProcess, type AgentSocket } from './helpers.js';

const TOKEN = 'agent-token-never-logged-7f3a';
const NODE = 'worker-07';
const FAST = { protocol: PROTOCOL_VERSION, report_interval_ms: 200, lease_ms: 1500 };

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).sort() : [];
}

describe('agent process against a stand-in controller', function () {
  this.timeout(20000);
  let tmp: { path: string; cleanup: () => void };
  let sessions: string;
  let fenced: string;
  let marks: string;
  let controller: StandInController;
  let agent: AgentProcess;
  let conn0: AgentSocket;
  let conn1: AgentSocket;

  const sessionNames = (): string[] => readdirSync(sessions).filter((n) => n.endsWith('.session') && !n.startsWith('.')).sort();
  const fencedNames = (): string[] => (existsSync(fenced) ? readdirSync(fenced).sort() : []);

  before(async () => {
    tmp = tempDir('berth-agent-e2e-');
    sessions = join(realpathSync(tmp.path), 'sessions');
    fenced = join(sessions, '.fenced');
    marks = join(tmp.path, 'marks');
    mkdirSync(sessions);
    mkdirSync(marks);
    writeFileSync(join(sessions, 'a1.session'), 'session bytes of a1');
    writeFileSync(join(sessions, 'a2.session'), 'session bytes of a2');
    writeFileSync(join(sessions, '.a3.session.part'), 'upload in flight');
    writeFileSync(join(sessions, 'notes.txt'), 'not a session');
    writeFileSync(join(sessions, 'zz-stale.session'), 'placed elsewhere while this server was away');
    controller = await StandInController.start();
    const configFile = join(tmp.path, 'agent.json');
    writeFileSync(configFile, JSON.stringify({
      controller_url: controller.baseUrl,
      node_id: NODE,
      token: TOKEN,
      sessions_dir: sessions,
      hooks: {
        on_assign: `echo "$1" >> "${marks}/assign.log"; echo "\${MALLOC_ARENA_MAX-unset} \${BERTH_LAUNCHER_ENV-unset} \${HOOK_ENV_MARK-unset}" > "${marks}/env.txt"`,
        on_unassign: `echo "$BERTH_ACCOUNT_ID" >> "${marks}/unassign.log"`,
      },
      report_interval_ms: 1000,
      lease_ms: 10000,
    }));
    // As the release launcher starts it: an allocator setting meant for the agent alone.
    agent = spawnAgent(configFile, { env: { MALLOC_ARENA_MAX: '1', BERTH_LAUNCHER_ENV: 'MALLOC_ARENA_MAX', HOOK_ENV_MARK: 'kept' } });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(agent.output().split('\n').slice(-40).join('\n'));
  });

  after(async () => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await controller.close();
    tmp.cleanup();
  });

  it('upgrades with the bearer token and node header, then says hello', async () => {
    conn0 = await controller.connection(0);
    expect(conn0.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(conn0.headers['x-berth-node']).to.equal(NODE);
    const hello = await waitFor('hello', () => messagesOf(conn0, 'hello')[0]);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(hello).to.deep.equal({
      type: 'hello', protocol: PROTOCOL_VERSION, node_id: NODE, agent_version: pkg.version,
      hostname: hostname(), sessions_dir: sessions,
    });
    expect(conn0.invalid).to.deep.equal([]);
    expect(messagesOf(conn0, 'report'), 'no report before welcome').to.deep.equal([]);
  });

  it('reports at once after welcome with its assigned session ids and sane load figures, fencing unassigned files', async () => {
    // A long interval: a report now can only be the immediate one.
    conn0.send({ type: 'welcome', protocol: PROTOCOL_VERSION, report_interval_ms: 60000, lease_ms: 60000, assigned: ['a1', 'a2'] });
    const report = await waitFor('first report', () => messagesOf(conn0, 'report')[0]);
    expect(report.accounts).to.deep.equal(['a1', 'a2']);
    for (const k of ['cpu_percent', 'memory_percent', 'disk_percent'] as const) expect(report[k], k).to.be.within(0, 100);
    expect(report.memory_percent).to.be.greaterThan(0);
    expect(report.disk_percent).to.be.greaterThan(0);
    expect(report.load_avg).to.have.length(3);
    expect(Math.abs(Date.parse(report.sent_at) - Date.now())).to.be.below(60000);
    expect(fencedNames(), 'a file not assigned to this server is fenced on welcome').to.deep.equal(['zz-stale.session']);
    await waitFor('on_assign for a1 and a2', () => lines(join(marks, 'assign.log')).join() === 'a1,a2');
    await waitFor('on_unassign for the stale file', () => lines(join(marks, 'unassign.log')).join() === 'zz-stale');
    // Hooks run side by side: the one writing env.txt may not have written yet.
    await waitFor('a hook wrote env.txt', () => lines(join(marks, 'env.txt')).length > 0);
    expect(lines(join(marks, 'env.txt')), 'hooks get the agent\'s environment without what the launcher set for the agent alone').to.deep.equal(['unset unset kept']);
    expect(conn0.invalid).to.deep.equal([]);
  });

  it('reconnects after the controller drops the socket and reports every report_interval_ms', async () => {
    const lastSeq = messagesOf(conn0, 'report').at(-1)!.seq;
    conn0.ws.terminate();
    conn1 = await controller.connection(1);
    await waitFor('hello on the new connection', () => messagesOf(conn1, 'hello').length === 1);
    conn1.startPinging(FAST.report_interval_ms);
    conn1.send({ type: 'welcome', ...FAST, assigned: ['a1', 'a2'] });
    await waitFor('5 reports', () => messagesOf(conn1, 'report').length >= 5);
    const reports = messagesOf(conn1, 'report');
    const seqs = reports.map((r) => r.seq);
    expect(seqs[0]).to.be.greaterThan(lastSeq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).to.equal(seqs[i - 1]! + 1);
    expect(conn0.closed).to.not.equal(null);
  });

  it('follows files the controller adds and removes: reports them and runs the hooks', async () => {
    const latest = (): ReportMessage | undefined => messagesOf(conn1, 'report').at(-1);
    writeFileSync(join(sessions, 'a4.session'), 'uploaded');
    await waitFor('a4 reported', () => latest()?.accounts.join() === 'a1,a2,a4');
    await waitFor('on_assign for a4', () => lines(join(marks, 'assign.log')).includes('a4'));
    rmSync(join(sessions, 'a4.session'));
    await waitFor('a4 gone from reports', () => latest()?.accounts.join() === 'a1,a2');
    await waitFor('on_unassign for a4', () => lines(join(marks, 'unassign.log')).join() === 'a4,zz-stale');
  });

  it('self-fences when nothing is heard for lease_ms: every session file moved into .fenced/, none deleted', async () => {
    controller.autoPingMs = FAST.report_interval_ms; // later connections are pinged but not welcomed
    conn1.stopPinging();
    await waitFor('session files fenced', () => sessionNames().length === 0 && fencedNames().join() === 'a1.session,a2.session,zz-stale.session');
    expect(readFileSync(join(fenced, 'a1.session'), 'utf8')).to.equal('session bytes of a1');
    expect(readFileSync(join(fenced, 'a2.session'), 'utf8')).to.equal('session bytes of a2');
    expect(existsSync(join(sessions, '.a3.session.part')), 'uploads in flight are not sessions').to.equal(true);
    expect(existsSync(join(sessions, 'notes.txt'))).to.equal(true);
    await waitFor('on_unassign for a1 and a2', () => lines(join(marks, 'unassign.log')).join() === 'a1,a2,a4,zz-stale');
    await waitFor('the silent socket is dropped', () => conn1.closed !== null);
  });

  it('stays fenced while only pinged, then restores just the assigned files on the next welcome', async () => {
    const conn2 = await controller.connection(2);
    await waitFor('hello', () => messagesOf(conn2, 'hello').length === 1);
    expect(sessionNames(), 'a ping alone restores nothing').to.deep.equal([]);
    writeFileSync(join(sessions, 'a5.session'), 'appeared while fenced');
    await waitFor('a file appearing while fenced is fenced too', () => fencedNames().includes('a5.session') && sessionNames().length === 0);
    conn2.send({ type: 'welcome', ...FAST, assigned: ['a1', 'a9'] });
    const report = await waitFor('report after welcome', () => messagesOf(conn2, 'report')[0]);
    expect(report.accounts).to.deep.equal(['a1']);
    expect(sessionNames()).to.deep.equal(['a1.session']);
    expect(readFileSync(join(sessions, 'a1.session'), 'utf8')).to.equal('session bytes of a1');
    expect(fencedNames(), 'unassigned copies are left for the controller').to.deep.equal(['a2.session', 'a5.session', 'zz-stale.session']);
    await waitFor('on_unassign for a5', () => lines(join(marks, 'unassign.log')).join() === 'a1,a2,a4,a5,zz-stale');
    await waitFor('on_assign for a1 again', () => lines(join(marks, 'assign.log')).join() === 'a1,a1,a2,a4');
    expect(controller.sockets).to.have.length(3);
  });

  it('exits 0 on SIGTERM after closing the socket with 1000, never logging the token', async () => {
    const conn2 = controller.sockets[2]!;
    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    expect(exit).to.deep.equal({ code: 0, signal: null });
    await waitFor('close seen by the controller', () => conn2.closed);
    expect(conn2.closed!.code).to.equal(1000);
    const out = agent.output();
    expect(out).to.include('"msg":"stopped"');
    expect(out).not.to.include(TOKEN);
    for (const line of out.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.to.throw();
  });
});
