/**
 * SIGTERM with a transfer in flight: the controller stops taking work, lets the
 * transfer finish or abandons it safely, and exits 0; the next start agrees with the
 * workers.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Api, ControllerProcess, fixtureConfig, writeConfig } from '../helpers/controller-fixture.js';
import { startSshd, type SshdFixture } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { reportingAgent } from '../fleet/agent-client.js';
import { liveIds } from './live-sampler.js';
import { journalSize } from './process-fleet.js';

describe('SIGTERM during an upload', function () {
  this.timeout(60_000);
  let sshd: SshdFixture;
  let dir: string;
  let proc: ControllerProcess | null = null;
  after(async () => {
    proc?.kill('SIGKILL');
    await sshd?.dispose();
    if (dir) removeDir(dir);
  });

  it('abandons the stalled upload safely, exits 0, and leaves nothing live', async () => {
    dir = tempDir('berth-term-');
    sshd = await startSshd({ host: '127.0.0.2' });
    const sessions = join(sshd.deployDir, 'sessions');
    mkdirSync(sessions, { recursive: true });
    const file = writeConfig(dir, fixtureConfig(dir, [{ id: 'w1', sshd }], { upload_timeout_ms: 3000, down_after_ms: 30000, failover_after_ms: 60000, log_level: 'info' }));
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    writeFileSync(join(dir, 'sessions', 'term1.session'), 'term1');
    proc = await new ControllerProcess(dir, file).ready();
    const agent = await reportingAgent(proc.port, 'w1');
    const api = Api.for(proc.port);
    await waitFor('w1 eligible', async () => (await api.get('/allocation/rankings')).body.servers[0].eligible);
    // Warm the pooled connection, then freeze sshd so the next upload hangs mid-flight.
    writeFileSync(join(dir, 'sessions', 'warm.session'), 'warm');
    expect((await api.post('/allocation/allocate', { account_id: 'warm', session_file: 'sessions/warm.session' })).status).to.equal(201);
    sshd.pause();
    const pending = api.post('/allocation/allocate', { account_id: 'term1', session_file: 'sessions/term1.session' }).catch((e: Error) => ({ status: 0, body: null, text: e.message }));
    // Wait for the request to reach the (now frozen) upload: its move is in the journal.
    await waitFor('the upload under way', () => journalSize(dir) > 0, 10_000, 10);
    const t0 = Date.now();
    proc.kill('SIGTERM');
    expect(await proc.exited()).to.equal(0);
    expect(Date.now() - t0).to.be.lessThan(15_000);
    const answer = await pending;
    expect(answer.status).to.not.equal(201);
    sshd.resume();
    await agent.close();
    // Nothing half-done: term1 is live nowhere and not placed; the journal is empty or recoverable.
    expect(liveIds(sessions)).to.deep.equal(['warm']);
    const db = new SQLite(join(dir, 'berth.sqlite'), { readonly: true });
    const row = db.prepare("SELECT server_id FROM accounts WHERE account_id = 'term1'").get() as { server_id: string | null } | undefined;
    db.close();
    expect(row?.server_id ?? null).to.equal(null);
  });
});
