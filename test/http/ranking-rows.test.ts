import { expect } from 'chai';
import type { ServerConfig } from '../../controller/config.js';
import { ServerState } from '../../controller/fleet/server-state.js';
import { RankingRowTexts, rankingRow } from '../../controller/http/ranking-rows.js';
import type { Candidate } from '../../controller/placement/types.js';

function server(id: string): ServerState {
  const config: ServerConfig = {
    server_id: id, host: '127.0.0.2', port: 22, user: 'u', password: null, private_key_path: null, host_key: null,
    deploy_dir: '/d', sessions_dir: '/d/sessions', max_accounts: 10, location: 'Berlin', status: 'active', agent_token: 't',
  };
  const s = new ServerState(config);
  s.healthy = true;
  s.cpu_percent = 12.5;
  s.last_report_at = Date.parse('2026-11-28T10:00:00.000Z');
  s.latency_ms = 3;
  return s;
}

describe('http: rankings row texts', () => {
  const texts = new RankingRowTexts();
  const candidate = (s: ServerState, over: Partial<Candidate> = {}): Candidate => ({ server_id: s.server_id, eligible: true, reasons: [], load_score: 7.5, ...over });
  const same = (rank: number, c: Candidate, s: ServerState) => expect(texts.text(rank, c, s)).to.equal(JSON.stringify(rankingRow(rank, c, s, false)));

  it('is the row as JSON, whatever the rank', () => {
    const s = server('w1');
    same(1, candidate(s), s);
    same(42, candidate(s), s);
    expect(JSON.parse(texts.text(3, candidate(s), s))).to.deep.include({ rank: 3, server_id: 'w1', cpu_percent: 12.5, last_report_at: '2026-11-28T10:00:00.000Z' });
  });

  it('follows every change of the server and of the decision (never a stale row)', () => {
    const s = server('w2');
    same(1, candidate(s), s);
    const changes: [string, () => void, Partial<Candidate>?][] = [
      ['cpu', () => { s.cpu_percent = 90; }],
      ['memory', () => { s.memory_percent = 40; }],
      ['disk', () => { s.disk_percent = 50; }],
      ['a later report', () => { s.last_report_at! += 5000; }],
      ['a cordon', () => { s.statusOverride = 'draining'; }],
      ['health', () => { s.healthy = false; }],
      ['missed reports', () => { s.consecutive_failures = 2; }],
      ['latency', () => { s.latency_ms = 9; }],
      ['a config reload (location)', () => { s.config = { ...s.config, location: 'Paris' }; }],
      ['a config reload (max_accounts)', () => { s.config = { ...s.config, max_accounts: 20 }; }],
      ['a config reload (status)', () => { s.statusOverride = null; s.config = { ...s.config, status: 'disabled' }; }],
      ['an account placed', () => { s.assigned.set('acc-1', null); }],
      ['the reported count', () => { s.reportedIds = ['acc-1']; }],
      ['the score', () => undefined, { load_score: 8.25 }],
      ['ineligible with reasons', () => undefined, { eligible: false, reasons: ['full: 10/10 accounts'] }],
      ['another reason', () => undefined, { eligible: false, reasons: ['not healthy'] }],
    ];
    for (const [what, change, over] of changes) {
      const before = texts.text(1, candidate(s, over), s);
      change();
      const after = texts.text(1, candidate(s, over), s);
      expect(after, what).to.equal(JSON.stringify(rankingRow(1, candidate(s, over), s, false)));
      if (!over) expect(after, `${what} changes the row`).to.not.equal(before);
    }
  });
});
