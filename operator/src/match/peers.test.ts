import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeers, peerEndpoint } from './peers.ts';

test('a peers file with a certificate peer and a token peer', async () => {
  const peers = parsePeers('peers:\n  - {name: partner-b, url: "https://b.example:8443", ca: /ca.pem, cert: /c.pem, key: /k.pem}\n  - {name: partner-c, url: "https://c.example:8443", tokenFile: /t}\n');
  assert.deepEqual(peers, [
    { name: 'partner-b', url: 'https://b.example:8443', ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' },
    { name: 'partner-c', url: 'https://c.example:8443', tokenFile: '/t' },
  ]);
  const files: Record<string, string> = { '/ca.pem': 'CA', '/c.pem': 'CERT', '/k.pem': 'KEY', '/t': 'tok\n' };
  const read = (p: string): Promise<string> => (p in files ? Promise.resolve(files[p]!) : Promise.reject(Object.assign(new Error('no'), { code: 'ENOENT' })));
  assert.deepEqual(await peerEndpoint(peers[1]!, read), { base: new URL('https://c.example:8443'), token: 'tok' });
  assert.deepEqual(await peerEndpoint(peers[0]!, read), { base: new URL('https://b.example:8443'), ca: 'CA', cert: 'CERT', key: 'KEY' });
  await assert.rejects(peerEndpoint({ name: 'x', url: 'https://x', tokenFile: '/missing' }, read), /x\.tokenFile: cannot read \/missing \(ENOENT\)/);
});

const bad: Array<[string, string, RegExp]> = [
  ['not YAML', 'peers: [', /\(document\): not valid YAML/],
  ['no peers list', 'peer: []', /peers: the file must hold/],
  ['a peer that is not a mapping', 'peers: [b]', /peers\[0\]: must be a mapping/],
  ['an unknown field (typo)', 'peers: [{name: b, url: "https://b", tokenfile: /t}]', /peers\[0\]\.tokenfile: unknown field/],
  ['a name that is no DNS label', 'peers: [{name: B_1, url: "https://b", tokenFile: /t}]', /peers\[0\]\.name: must be a lower-case DNS label/],
  ['a name twice', 'peers: [{name: b, url: "https://b", tokenFile: /t}, {name: b, url: "https://c", tokenFile: /t}]', /peers\[1\]\.name: b is listed twice/],
  ['plain HTTP', 'peers: [{name: b, url: "http://b:80", tokenFile: /t}]', /peers\[0\]\.url: must be the peer's https/],
  ['no URL', 'peers: [{name: b, tokenFile: /t}]', /peers\[0\]\.url/],
  ['a certificate without its key', 'peers: [{name: b, url: "https://b", cert: /c}]', /peers\[0\]\.cert: cert and key go together/],
  ['no credentials', 'peers: [{name: b, url: "https://b"}]', /peers\[0\]: give cert and key, or tokenFile/],
  ['an empty path', 'peers: [{name: b, url: "https://b", tokenFile: ""}]', /peers\[0\]\.tokenFile: must be a file path/],
];
for (const [name, text, want] of bad) {
  test(`a peers file with ${name} is refused, naming the field`, () => {
    assert.throws(() => parsePeers(text), want);
  });
}
