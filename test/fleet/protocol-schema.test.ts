/**
 * The account-id lists of the agent protocol (`accounts` in a report, `assigned` in a
 * welcome or an assign): what passes, and the INVALID_MESSAGE each kind of bad list gets,
 * naming the field and, for a bad element, its index.
 */
import { expect } from 'chai';
import { parseAgentMessage, parseControllerMessage, type ProtocolViolation } from '../../shared/protocol-schema.js';
import { MAX_ACCOUNT_LIST } from '../../shared/protocol.js';
import { ACCOUNT_ID_PATTERN } from '../../shared/ids.js';
import type { Result } from '../../shared/result.js';

const report = (accounts: unknown) => JSON.stringify({
  type: 'report', seq: 1, sent_at: new Date().toISOString(), cpu_percent: 1, memory_percent: 2, disk_percent: 3, load_avg: [0.1], accounts,
});

function violation(raw: string, parse: (raw: string) => Result<unknown, ProtocolViolation> = parseAgentMessage): ProtocolViolation {
  const r = parse(raw);
  if (r.ok) throw new Error('expected a violation');
  return r.error;
}

describe('protocol account lists', () => {
  it('a list of valid ids passes, in order', () => {
    const ids = ['639277356598', 'acc-1', 'user@example.org', 'a.b_c+d'];
    const r = parseAgentMessage(report(ids));
    expect(r.ok && r.value.type === 'report' && r.value.accounts).to.deep.equal(ids);
    const a = parseControllerMessage(JSON.stringify({ type: 'assign', assigned: ids }));
    expect(a.ok && a.value.type === 'assign' && a.value.assigned).to.deep.equal(ids);
  });

  it('an empty list and the longest list allowed pass', () => {
    expect(parseAgentMessage(report([])).ok).to.equal(true);
    const most = Array.from({ length: MAX_ACCOUNT_LIST }, (_, i) => `a${i}`);
    expect(parseControllerMessage(JSON.stringify({ type: 'assign', assigned: most })).ok).to.equal(true);
  });

  it('a bad element is named by its index', () => {
    expect(violation(report(['ok-1', 'ok-2', '../etc/passwd']))).to.deep.equal({ code: 'INVALID_MESSAGE', message: `accounts.2: must match ${String(ACCOUNT_ID_PATTERN)}` });
    expect(violation(report(['ok-1', 7])).message).to.equal('accounts.1: Expected string, received number');
    expect(violation(report(['ok-1', null])).message).to.equal('accounts.1: Expected string, received null');
    expect(violation(JSON.stringify({ type: 'assign', assigned: ['', 'x'] }), parseControllerMessage).message).to.match(/^assigned\.0: must match/);
  });

  it('a list that is not an array, or is missing, is refused', () => {
    expect(violation(report('acc-1')).message).to.equal('accounts: Expected array, received string');
    expect(violation(report({ 0: 'acc-1' })).message).to.equal('accounts: Expected array, received object');
    expect(violation(JSON.stringify({ type: 'assign' }), parseControllerMessage).message).to.equal('assigned: Required');
  });

  it('a list longer than the limit is refused', () => {
    const tooMany = Array.from({ length: MAX_ACCOUNT_LIST + 1 }, (_, i) => `a${i}`);
    expect(violation(JSON.stringify({ type: 'assign', assigned: tooMany }), parseControllerMessage).message)
      .to.equal(`assigned: Array must contain at most ${MAX_ACCOUNT_LIST} element(s)`);
  });
});
