/**
 * The controller process refusing its config file at start (SPEC §1, §2): exit code 2
 * and one JSON log line on stdout (like every other log line) naming the bad key.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { CONTROLLER_MAIN, fixtureConfig, removeDir, tempDir, writeConfig } from '../helpers/controller-fixture.js';

function run(configFile: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CONTROLLER_MAIN, '--config', configFile], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('service: a refused config file', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => { dir = tempDir('berth-refused-'); });
  after(() => removeDir(dir));

  it('exits 2 with one fatal JSON line on stdout naming the key, and no secret in it', async () => {
    const raw = fixtureConfig(dir, [{ id: 'w1' }]) as { servers: Record<string, Record<string, unknown>> };
    raw.servers.w1!.max_accounts = 'five';
    const r = await run(writeConfig(dir, raw), dir);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.have.length(1);
    expect(lines[0]!.level).to.equal(60);
    expect(lines[0]!.msg).to.match(/^config refused: .*servers\.w1\.max_accounts/);
    expect(r.stdout).to.not.include(String(raw.servers.w1!.agent_token));
  });
});
