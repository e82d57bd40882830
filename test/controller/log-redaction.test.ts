/**
 * The controller's logger (pino) censors every secret key wherever it appears in a line:
 * in the fields at any depth, in arrays, in an error's own fields and its `cause`, and in
 * a child logger's bindings. It never changes the caller's objects, and a line without
 * secrets is written as given.
 */
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from '../../shared/log.js';
import { CENSOR, SECRET_KEYS } from '../../shared/line-logger.js';

/** A logger writing into an array of parsed lines. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: createLogger({ name: 'test', level: 'debug' }, sink), lines, raw };
}

describe('controller log redaction', () => {
  it('censors every secret key at the top and at depth, in objects and arrays', () => {
    const { log, lines, raw } = capture();
    const fields = {
      token: 'tok-top', server: { password: 'pw-1', host: '127.0.0.2' },
      servers: [{ id: 'w1', ssh: { private_key: 'KEY-2', user: 'berth' } }],
      deep: { a: { b: { c: { d: { passphrase: 'phrase-5' } } } } },
    };
    log.info(fields, 'with secrets');
    expect(lines[0]).to.deep.include({
      msg: 'with secrets', token: CENSOR, server: { password: CENSOR, host: '127.0.0.2' },
      servers: [{ id: 'w1', ssh: { private_key: CENSOR, user: 'berth' } }],
      deep: { a: { b: { c: { d: { passphrase: CENSOR } } } } },
    });
    for (const s of ['tok-top', 'pw-1', 'KEY-2', 'phrase-5']) expect(raw[0]).not.to.include(s);
    // the caller's object is untouched
    expect(fields.server.password).to.equal('pw-1');
    expect(fields.servers[0]!.ssh.private_key).to.equal('KEY-2');
  });

  it('censors every listed key', () => {
    const { log, lines } = capture();
    log.warn({ nested: Object.fromEntries(SECRET_KEYS.map((k) => [k, `value-of-${k}`])) }, 'all keys');
    expect(lines[0]!.nested).to.deep.equal(Object.fromEntries(SECRET_KEYS.map((k) => [k, CENSOR])));
  });

  it("censors an error's own fields and its cause, keeping its message and stack", () => {
    const { log, lines, raw } = capture();
    const cause = Object.assign(new Error('inner'), { password: 'pw-cause' });
    const err = Object.assign(new Error('outer', { cause }), { token: 'tok-err', code: 'E_X' });
    log.error({ err }, 'failed');
    const shown = lines[0]!.err as Record<string, unknown>;
    expect(shown).to.include({ type: 'Error', code: 'E_X', token: CENSOR });
    expect(String(shown.message)).to.match(/^outer/);
    expect(String(shown.stack)).to.include('outer');
    expect(raw[0]).not.to.include('tok-err');
    expect(raw[0]).not.to.include('pw-cause');
    expect((err as unknown as { token: string }).token).to.equal('tok-err');
  });

  it("censors a child logger's bindings", () => {
    const { log, lines, raw } = capture();
    const child = log.child({ server_id: 'w1', agent_token: 'tok-child' });
    child.info('from a child');
    child.child({ hop: 2, ssh: { password: 'pw-grandchild' } }).info('from a grandchild');
    expect(lines[0]).to.include({ server_id: 'w1', agent_token: CENSOR, msg: 'from a child' });
    expect(lines[1]).to.deep.include({ server_id: 'w1', agent_token: CENSOR, hop: 2, ssh: { password: CENSOR } });
    expect(raw.join('\n')).not.to.match(/tok-child|pw-grandchild/);
  });

  it('passes fields without secrets through as the same object', () => {
    const fields = { server_id: 'w1', account_id: 'a1', nested: { size: 28672, ids: ['x', 'y'] }, bytes_total: 5 };
    expect(redactSecrets(fields)).to.equal(fields);
    const { log, lines } = capture();
    log.info(fields, 'plain');
    expect(lines[0]).to.deep.include(fields);
  });

  it('does not walk binary data; writes a cycle as [Circular] and cuts past 8 levels', () => {
    const buf = Buffer.from('session-bytes');
    const cyclic: Record<string, unknown> = { name: 'loop', token: 'tok-cycle' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { password: 'pw-deep' };
    for (let i = 0; i < 10; i++) deep = { next: deep };
    const { log, lines, raw } = capture();
    log.info({ data: buf, cyclic, bytes: buf, deep }, 'opaque');
    expect(lines[0]!.bytes).to.equal(CENSOR);
    expect(lines[0]!.cyclic).to.deep.equal({ name: 'loop', token: CENSOR, self: '[Circular]' });
    expect(raw[0]).to.include('[too deep]');
    expect(raw[0]).not.to.match(/session-bytes|tok-cycle|pw-deep/);
    expect(lines[0]!.data).to.deep.equal({ type: 'Buffer', data: [...buf] });
  });

  it('censors frozen objects, read-only properties and getters without throwing', () => {
    const config = Object.freeze({ controller: Object.freeze({ port: 8443, api_tokens: Object.freeze([Object.freeze({ name: 'ops', token: 'tok-frozen' })]) }) });
    const readOnly = Object.defineProperty({ host: 'h' }, 'password', { value: 'pw-readonly', writable: false, enumerable: true });
    const withGetter = { get secret() { return 'getter-secret'; }, user: 'berth' };
    const { log, lines, raw } = capture();
    log.info({ config, readOnly, withGetter }, 'frozen');
    expect(lines[0]).to.deep.include({
      config: { controller: { port: 8443, api_tokens: CENSOR } }, readOnly: { host: 'h', password: CENSOR }, withGetter: { secret: CENSOR, user: 'berth' },
    });
    expect(raw[0]).not.to.match(/tok-frozen|pw-readonly|getter-secret/);
    expect(Object.isFrozen(config.controller)).to.equal(true);
  });

  it('writes a log_error line instead of throwing when the fields cannot be read', () => {
    const hostile = { get boom(): string { throw new Error('getter failed'); } };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const { log, lines } = capture();
    expect(() => log.warn({ hostile }, 'a throwing getter')).not.to.throw();
    expect(() => log.warn({ proxy }, 'a revoked proxy')).not.to.throw();
    expect(() => log.child({ proxy }).warn('a child with a revoked proxy')).not.to.throw();
    expect(lines.map((l) => l.log_error)).to.deep.equal(['the fields of this line could not be read', 'the fields of this line could not be read', 'the fields of this line could not be read']);
    expect(lines.map((l) => l.msg)).to.deep.equal(['a throwing getter', 'a revoked proxy', 'a child with a revoked proxy']);
  });
});
