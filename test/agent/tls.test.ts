/**
 * wss to a controller whose certificate comes from a private CA: trusted with
 * `ca_file`, refused without it (verification is never switched off). Run with the
 * compiled agent and with the release bundle, where TLS is loaded on first use.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { releaseBundle } from '../helpers/release-bundle.js';
import { AGENT_MAIN, messagesOf, makeTestCa, spawnAgent, StandInController, tempDir, waitFor } from './helpers.js';

describe('agent over TLS with a private CA', function () {
  this.timeout(20000);
  let tmp: { path: string; cleanup: () => void };
  let pki: ReturnType<typeof makeTestCa>;
  let controller: StandInController;

  before(async () => {
    tmp = tempDir('berth-agent-tls-');
    pki = makeTestCa(tmp.path);
    controller = await StandInController.start({ tls: { key: pki.key, cert: pki.cert } });
  });
  after(async () => {
    await controller.close();
    tmp.cleanup();
  });

  function writeConfig(name: string, extra: Record<string, unknown>): string {
    const file = join(tmp.path, name);
    writeFileSync(file, JSON.stringify({
      controller_url: controller.baseUrl, node_id: 'worker-tls', token: 'tls-token', sessions_dir: join(tmp.path, 'sessions'),
      ...extra,
    }));
    return file;
  }

  const builds = [
    { name: 'compiled', script: async () => AGENT_MAIN },
    { name: 'release bundle', script: async () => (await releaseBundle()).file },
  ];
  for (const build of builds) {
    it(`${build.name}: connects over wss when ca_file names the CA`, async () => {
      expect(controller.baseUrl).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
      const before = controller.sockets.length;
      const agent = spawnAgent(writeConfig('trusting.json', { ca_file: pki.caFile }), { script: await build.script() });
      try {
        const conn = await controller.connection(before);
        const hello = await waitFor('hello over wss', () => messagesOf(conn, 'hello')[0]);
        expect(hello.node_id).to.equal('worker-tls');
        expect(agent.output()).to.include('"url":"wss://127.0.0.1:');
      } finally {
        agent.child.kill('SIGTERM');
        expect((await agent.exited).code).to.equal(0);
      }
    });

    it(`${build.name}: refuses the certificate without ca_file and keeps retrying`, async () => {
      const before = controller.sockets.length;
      const agent = spawnAgent(writeConfig('default-trust.json', {}), { script: await build.script() });
      try {
        await waitFor('two refused attempts', () =>
          (agent.output().match(/"reason":"[^"]*(self[- ]signed|unable to (get|verify))[^"]*","msg":"controller connection error"/g) ?? []).length >= 2);
        expect(controller.sockets.length, 'no WebSocket was opened').to.equal(before);
      } finally {
        agent.child.kill('SIGTERM');
        expect((await agent.exited).code).to.equal(0);
      }
    });
  }
});
