/** The fleet's script index agrees with every server's own script counts, and placement gives the same answer with it. */
import { expect } from 'chai';
import type { ServerConfig } from '../../controller/config.js';
import { Fleet } from '../../controller/fleet/fleet.js';
import { place } from '../../controller/placement/pipeline.js';
import { DEFAULT_WEIGHTS } from '../../controller/placement/scorers/load-score.js';
import type { Strategy } from '../../controller/placement/types.js';
import { seededRandom } from '../helpers/placement-builders.js';

function config(id: string, location: string): ServerConfig {
  return { server_id: id, host: 'h', port: 22, user: 'u', password: null, private_key_path: null, host_key: null, deploy_dir: '/d', sessions_dir: '/d/sessions', max_accounts: 50, location, status: 'active', agent_token: 't' };
}

function agrees(fleet: Fleet): void {
  for (const s of fleet.servers) {
    for (const script of ['s0', 's1', 's2', 's3', 's4']) {
      const column = fleet.scriptCounts.of(script);
      expect(column ? column[s.position] : 0, `${s.server_id} ${script}`).to.equal(s.scripts.get(script) ?? 0);
    }
    // The account list's size as the agent protocol sends it, kept in step too.
    const ids = [...s.assigned.keys(), ...s.inFlight.keys()];
    expect(s.account_list_bytes, `${s.server_id} list bytes`).to.equal(ids.reduce((n, id) => n + id.length + 3, 0));
  }
}

describe('fleet script index', () => {
  it('follows reservations, commits, releases, moves and config changes (script counts and account-list bytes)', () => {
    const fleet = new Fleet(['b', 'a', 'c'].map((id, i) => config(id, `L${i % 2}`)));
    const random = seededRandom(3);
    const placed: string[] = [];
    for (let n = 0; n < 300; n++) {
      const r = random();
      const server = fleet.servers[Math.floor(random() * fleet.servers.length)]!.server_id;
      const script = `s${Math.floor(random() * 5)}`;
      if (r < 0.4) {
        const res = fleet.reserve(server, `acc${n}`, script);
        if (random() < 0.7) { res.commit(); placed.push(`acc${n}`); } else res.release();
      } else if (r < 0.6 && placed.length > 0) {
        fleet.unassign(placed.splice(Math.floor(random() * placed.length), 1)[0]!);
      } else if (r < 0.8 && placed.length > 0) {
        const id = placed[Math.floor(random() * placed.length)]!;
        const from = fleet.serverOf(id)!;
        fleet.assign(id, server, fleet.get(from)!.assigned.get(id) ?? null);
      } else if (r < 0.85) {
        const ids = ['a', 'b', 'c', 'd'].filter(() => random() < 0.8);
        fleet.applyConfig((ids.length ? ids : ['a']).map((id, i) => config(id, `L${i % 2}`)));
      }
      agrees(fleet);
    }
  });

  for (const strategy of ['isolation', 'affinity'] as Strategy[]) {
    it(`${strategy}: the same decision with and without the index`, () => {
      const ids = Array.from({ length: 60 }, (_, i) => `srv${String(i).padStart(3, '0')}`);
      const fleet = new Fleet(ids.map((id, i) => config(id, `L${i % 4}`)));
      const random = seededRandom(11);
      for (const s of fleet.servers) {
        fleet.setConnected(s.server_id, true);
        fleet.applyReport(s.server_id, { cpu_percent: random() * 80, memory_percent: random() * 80, disk_percent: 20, load_avg: [], accounts: [] }, Date.now());
      }
      for (let n = 0; n < 400; n++) {
        const script = `s${Math.floor(random() * 5)}`;
        const req = { account_id: `x${n}`, script_id: script, strategy, location: null, strict: false, exclude: null, explain: false };
        const fast = place(fleet.servers, req, DEFAULT_WEIGHTS, fleet.scriptCounts);
        const slow = place(fleet.servers, req, DEFAULT_WEIGHTS);
        expect(fast.ok && fast.value.server_id).to.equal(slow.ok && slow.value.server_id);
        if (fast.ok) fleet.reserve(fast.value.server_id, `x${n}`, script).commit();
      }
    });
  }
});
