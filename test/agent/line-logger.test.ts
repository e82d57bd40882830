/**
 * The agent's logger (shared/line-logger.ts): pino's line format, secrets redacted at
 * any depth, errors shown like pino's `err` serializer, and a line for any input.
 */
import { expect } from 'chai';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLineLogger, SECRET_KEYS, stdoutSink } from '../../shared/line-logger.js';
import { tempDir } from './helpers.js';

function capture(level?: string) {
  const lines: string[] = [];
  const log = createLineLogger({ name: 'berth-agent', ...(level ? { level } : {}) }, (line) => lines.push(line));
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('agent line logger', () => {
  it('writes one JSON object a line in pino\'s format: level number, ISO time, pid, name, fields, msg', () => {
    const { log, lines, parsed } = capture();
    log.info({ node_id: 'worker-01', accounts: 3 }, 'berth agent starting');
    log.warn('plain message');
    expect(lines.every((l) => l.endsWith('}\n') && !l.slice(0, -1).includes('\n'))).to.equal(true);
    const [first, second] = parsed();
    expect(Object.keys(first!)).to.deep.equal(['level', 'time', 'pid', 'name', 'node_id', 'accounts', 'msg']);
    expect(first).to.include({ level: 30, pid: process.pid, name: 'berth-agent', node_id: 'worker-01', accounts: 3, msg: 'berth agent starting' });
    expect(new Date(first!.time).toISOString()).to.equal(first!.time);
    expect(second).to.include({ level: 40, msg: 'plain message' });
  });

  it('redacts every secret key at any depth', () => {
    const { log, lines } = capture();
    const secrets = Object.fromEntries(SECRET_KEYS.map((k, i) => [k, `secret-value-${i}`]));
    log.info({ ...secrets, nested: { deeper: { ...secrets }, list: [secrets] } }, 'config');
    expect(lines[0]).not.to.match(/secret-value-/);
    const line = JSON.parse(lines[0]!);
    expect(line.token).to.equal('[redacted]');
    expect(line.nested.deeper.password).to.equal('[redacted]');
    expect(line.nested.list[0].session_base64).to.equal('[redacted]');
  });

  it('shows errors with type, message, stack and code, as pino\'s err serializer does', () => {
    const { log, parsed } = capture();
    const e = Object.assign(new TypeError('boom'), { code: 'E_BOOM' });
    log.error({ err: e }, 'failed');
    log.error(e);
    const [withField, bare] = parsed();
    expect(withField!.err).to.include({ type: 'TypeError', message: 'boom', code: 'E_BOOM' });
    expect(withField!.err.stack).to.match(/^TypeError: boom\n/);
    expect(bare!.err).to.include({ type: 'TypeError', message: 'boom' });
    expect(bare!.msg, 'a bare error\'s message is the line\'s').to.equal('boom');
  });

  it('keeps lines at or above its level; "silent" writes nothing', () => {
    const warn = capture('warn');
    warn.log.info('dropped');
    warn.log.debug('dropped');
    warn.log.error('kept');
    expect(warn.parsed().map((l) => l.msg)).to.deep.equal(['kept']);
    const silent = capture('silent');
    silent.log.fatal('nothing');
    expect(silent.lines).to.deep.equal([]);
    const trace = capture('trace');
    trace.log.trace('kept');
    expect(trace.parsed()[0]).to.include({ level: 10 });
  });

  it('still writes a line for fields JSON cannot encode (a cycle), and bigint as a string', () => {
    const { log, parsed } = capture();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    log.warn({ cyclic }, 'odd fields');
    log.info({ big: 12n }, 'bigint');
    const [odd, big] = parsed();
    expect(odd).to.include({ msg: 'odd fields', log_error: 'fields not serialisable' });
    expect(big).to.include({ big: '12' });
  });

  it('writes whole lines to a file descriptor, and flush calls back once they are there', async () => {
    const tmp = tempDir('berth-line-logger-');
    try {
      const file = join(tmp.path, 'out.log');
      const fd = openSync(file, 'w');
      const log = createLineLogger({ name: 'berth-agent' }, stdoutSink(fd));
      for (let i = 0; i < 100; i++) log.info({ i, pad: 'x'.repeat(1000) }, 'line');
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      closeSync(fd);
      const lines = readFileSync(file, 'utf8').split('\n');
      expect(lines.pop()).to.equal('');
      expect(lines.map((l) => JSON.parse(l).i)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      tmp.cleanup();
    }
  });
});
