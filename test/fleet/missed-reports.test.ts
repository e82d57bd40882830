import { expect } from 'chai';
import type { ServerConfig } from '../../controller/config.js';
import { Fleet } from '../../controller/fleet/fleet.js';

const I = 5000;

function config(id: string): ServerConfig {
  return { server_id: id, host: 'h', port: 22, user: 'u', password: null, private_key_path: null, host_key: null, deploy_dir: '/d', sessions_dir: '/d/sessions', max_accounts: 50, location: null, status: 'active', agent_token: 't' };
}

describe('fleet: consecutive_failures counts missed report intervals (SPEC §6)', () => {
  it('one per interval after the report was due (half an interval of grace), back to 0 on a report', () => {
    const fleet = new Fleet([config('w1')]);
    const t0 = 1_000_000;
    fleet.setConnected('w1', true);
    fleet.applyReport('w1', { cpu_percent: 1, memory_percent: 1, disk_percent: 1, load_avg: [0, 0, 0], accounts: [] }, t0);
    const failuresAt = (ms: number) => {
      fleet.tick(t0 + ms, 3 * I, I, 0);
      return fleet.get('w1')!.consecutive_failures;
    };
    // The next report is due at 5 s: on time up to 7.5 s, then missed.
    expect([0, 4_000, 7_400, 7_600, 12_400, 12_600, 26_000].map(failuresAt)).to.deep.equal([0, 0, 0, 1, 1, 2, 4]);
    fleet.applyReport('w1', { cpu_percent: 1, memory_percent: 1, disk_percent: 1, load_avg: [0, 0, 0], accounts: [] }, t0 + 27_000);
    expect(failuresAt(27_100)).to.equal(0);
  });

  it('a server that never reported misses one each interval since the controller started', () => {
    const fleet = new Fleet([config('w1')]);
    fleet.tick(12_000, 3 * I, I, 0);
    expect(fleet.get('w1')!.consecutive_failures).to.equal(2);
  });
});
