import { expect } from 'chai';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEPLOY_DIR, exposure, placeUnit, relocatedUnit, tempDir, verifyUnit,
} from './deploy-helpers.js';

const UNITS = ['berth-controller.service', 'berth-agent.service'] as const;
/** The exposure an operator should see at most (`systemd-analyze security`). */
const MAX_EXPOSURE = 2.5;

describe('deploy: systemd units', () => {
  let root: string;

  before(() => {
    // A stand-in install layout so ExecStart points at an existing executable.
    root = tempDir('units');
    for (const component of ['controller', 'agent']) {
      const bin = path.join(root, 'opt', 'berth', component, 'bin', `berth-${component}`);
      mkdirSync(path.dirname(bin), { recursive: true });
      writeFileSync(bin, '#!/bin/sh\nexit 0\n');
      chmodSync(bin, 0o755);
    }
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  for (const unit of UNITS) {
    it(`${unit} passes systemd-analyze verify without a warning`, async () => {
      const result = await verifyUnit(relocatedUnit(path.join(DEPLOY_DIR, unit), root));
      expect(result.stderr + result.stdout).to.equal('');
      expect(result.code).to.equal(0);
    });

    it(`${unit} is Type=exec, restarts on failure, logs to journald and never sets MemoryDenyWriteExecute`, () => {
      const text = readFileSync(path.join(DEPLOY_DIR, unit), 'utf8');
      const settings = text.split('\n').filter((line) => !line.startsWith('#'));
      expect(settings).to.include('Type=exec');
      expect(settings).to.include('Restart=on-failure');
      expect(settings).to.include('StandardOutput=journal');
      expect(settings).to.include('EnvironmentFile=-/etc/berth/berth.env');
      expect(settings.some((line) => line.startsWith('ExecStart=') && line.includes('--config /etc/berth/'))).to.equal(true);
      expect(settings.filter((line) => /MemoryDenyWriteExecute/i.test(line))).to.deep.equal([]);
    });
  }

  it('the controller runs in /var/lib/berth as the berth user', () => {
    const text = readFileSync(path.join(DEPLOY_DIR, 'berth-controller.service'), 'utf8');
    expect(text).to.match(/^WorkingDirectory=\/var\/lib\/berth$/m);
    expect(text).to.match(/^StateDirectory=berth$/m);
    expect(text).to.match(/^User=berth$/m);
    expect(text).to.match(/--config \/etc\/berth\/master_config\.json$/m);
  });

  it(`the controller's exposure is at most ${MAX_EXPOSURE}`, async () => {
    expect(await exposure(path.join(DEPLOY_DIR, 'berth-controller.service'))).to.be.at.most(MAX_EXPOSURE);
  });

  it(`the agent's exposure is at most ${MAX_EXPOSURE} as root and lower as the sessions' owner`, async () => {
    const asRoot = tempDir('sec-root');
    const asUser = tempDir('sec-user');
    try {
      placeUnit(asRoot, path.join(DEPLOY_DIR, 'berth-agent.service'));
      placeUnit(asUser, path.join(DEPLOY_DIR, 'berth-agent.service'),
        '[Service]\nUser=ubuntu\nCapabilityBoundingSet=\nReadWritePaths=/home/ubuntu\n');
      const rootFigure = await exposure('berth-agent.service', asRoot);
      const userFigure = await exposure('berth-agent.service', asUser);
      expect(rootFigure).to.be.at.most(MAX_EXPOSURE);
      expect(userFigure).to.be.below(rootFigure);
    } finally {
      rmSync(asRoot, { recursive: true, force: true });
      rmSync(asUser, { recursive: true, force: true });
    }
  });
});
