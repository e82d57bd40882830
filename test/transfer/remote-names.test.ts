import { expect } from 'chai';
import { hostKeyFingerprint, normalizeFingerprint } from '../../controller/transfer/host-key.js';
import { fencedCopyOwner, livePath, partPath } from '../../controller/transfer/remote-names.js';

describe('transfer: remote names and fingerprints', () => {
  const owners: Array<[string, string | null]> = [
    ['acc.session', 'acc'],
    ['acc.session.1700000000', 'acc'],
    ['acc.session.2024-01-01T00:00:00.000Z', 'acc'],
    ['a.session.session', 'a.session'],
    ['a.b.session.7', 'a.b'],
    ['.acc.session.part', null],
    ['acc.session.', null],
    ['notes.txt', null],
    ['.session', null],
  ];
  for (const [name, owner] of owners) {
    it(`fenced copy ${JSON.stringify(name)} belongs to ${String(owner)}`, () => {
      expect(fencedCopyOwner(name)).to.equal(owner);
    });
  }

  it('builds live and part paths inside sessions_dir', () => {
    expect(livePath('/home/u/sessions', '639277356598')).to.equal('/home/u/sessions/639277356598.session');
    expect(partPath('/home/u/sessions', '639277356598')).to.equal('/home/u/sessions/.639277356598.session.part');
  });

  it('fingerprints a key blob as OpenSSH does and normalises written forms', () => {
    // sha256("") = 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= in base64
    expect(hostKeyFingerprint(Buffer.alloc(0))).to.equal('SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
    expect(normalizeFingerprint(' 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= ')).to.equal('SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});
