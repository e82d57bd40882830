/**
 * The real thing: the real agent process on a worker served by a real sshd. The seed
 * request places the session there, the agent reports it, a release removes it; and an
 * agent that reconnects to a directory that drifted gets its assigned session back.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { AgentProcess } from '../helpers/controller-fixture.js';
import type { SshdFixture } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';
import { expectConsistent, modeOf, startRig, startSshds, workerDir, workerFiles, type Rig } from './helpers.js';

describe('allocation: with the real agent process', function () {
  this.timeout(40_000);
  let sshd: SshdFixture;
  let rig: Rig | undefined;
  const agents: AgentProcess[] = [];

  before(async () => {
    [sshd] = (await startSshds(1)) as [SshdFixture];
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await rig?.close();
    await sshd.dispose();
  });

  const startAgent = () => {
    const a = new AgentProcess({ port: rig!.controller.port, id: 'w1', sessionsDir: workerDir(sshd) });
    agents.push(a);
    return a;
  };
  const reported = async (): Promise<string[] | null> => (await rig!.api.get('/servers/w1')).body.reported_account_ids;

  it('places the seed request on the worker, the agent reports it, and DELETE takes it back', async () => {
    rig = await startRig([{ id: 'w1', sshd, max_accounts: 5, figures: null }]);
    startAgent();
    await waitFor('the real agent to report', () => rig!.controller.fleet.get('w1')?.healthy, 15_000);

    const id = '639277356598';
    const bytes = rig.seed(id);
    const res = await rig.api.post('/allocation/allocate', { account_id: id, session_file: `sessions/${id}.session`, script_id: '000新人欢迎剧本', strategy: 'load_balance' });
    expect(res.status, res.text).to.equal(201);
    expect(res.body.server_id).to.equal('w1');
    const live = join(workerDir(sshd), `${id}.session`);
    expect(readFileSync(live).equals(bytes)).to.equal(true);
    expect(modeOf(live)).to.equal(0o600);
    await waitFor('the agent to report the session', async () => (await reported())?.includes(id), 5000);
    // The agent keeps it live (it is assigned): not fenced.
    expect(workerFiles(sshd)).to.deep.equal([`${id}.session`]);
    await expectConsistent(rig.api, id, 'w1');

    const del = await rig.api.call('DELETE', `/accounts/${id}`);
    expect(del.status, del.text).to.equal(200);
    expect(existsSync(live)).to.equal(false);
    await waitFor('the agent to report no session', async () => (await reported())?.length === 0, 5000);
    await expectConsistent(rig.api, id, null);
  });

  it('an agent that reconnects to a directory missing an assigned session gets it back (drift is mended)', async () => {
    const id = 'drift-1';
    const bytes = rig!.seed(id);
    const res = await rig!.api.post('/allocation/allocate', { account_id: id, session_file: `${id}.session` });
    expect(res.status, res.text).to.equal(201);
    const live = join(workerDir(sshd), `${id}.session`);
    await agents.pop()!.stop();
    rmSync(live);
    startAgent();
    await waitFor('the missing session to be restored', () => existsSync(live), 15_000);
    expect(readFileSync(live).equals(bytes)).to.equal(true);
    await waitFor('the agent to report it', async () => (await reported())?.includes(id), 5000);
    await expectConsistent(rig!.api, id, 'w1');
  });
});
