import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MerkleLog, EMPTY_ROOT } from './merkle.ts';
import { SigningKey } from './signature.ts';
import { TreeHeadInputError, signLogHead, signTreeHead, treeHeadSigningPayload, verifyTreeHead, type SignedTreeHead } from './treehead.ts';

const key = SigningKey.generate();
const other = SigningKey.generate();
const ROOT8 = '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328';
const head = { treeSize: 8, rootHash: ROOT8, timestamp: '2026-03-01T00:00:00.000Z' };

describe('signed tree heads', () => {
  test('sign then verify; logId is the key id', () => {
    const sth = signTreeHead(key, head);
    assert.equal(sth.logId, key.id);
    assert.equal(verifyTreeHead(key.publicKey, sth), true);
  });
  test('the payload is canonical JSON with kind "tree-head"', () => {
    assert.equal(treeHeadSigningPayload({ ...head, logId: key.id }),
      `{"kind":"tree-head","logId":"${key.id}","rootHash":"${ROOT8}","timestamp":"2026-03-01T00:00:00.000Z","treeSize":8}`);
  });
  test('signLogHead signs the log\'s current size and root at the given time', () => {
    const log = new MerkleLog();
    const empty = signLogHead(key, log, new Date('2026-03-01T00:00:00Z'));
    assert.deepEqual([empty.treeSize, empty.rootHash, empty.timestamp], [0, EMPTY_ROOT, '2026-03-01T00:00:00.000Z']);
    log.append('x');
    const one = signLogHead(key, log, new Date('2026-03-01T00:00:01Z'));
    assert.equal(one.rootHash, log.rootHash());
    assert.equal(verifyTreeHead(key.publicKey, one), true);
  });

  const sth = signTreeHead(key, head);
  const tampered: Array<[string, SignedTreeHead]> = [
    ['treeSize', { ...sth, treeSize: 9 }],
    ['rootHash', { ...sth, rootHash: EMPTY_ROOT }],
    ['timestamp', { ...sth, timestamp: '2026-03-01T00:00:01.000Z' }],
    ['logId of another key', { ...sth, logId: other.id }],
    ['signature from another key', { ...sth, signature: other.sign('tree-head', treeHeadSigningPayload(sth)) }],
    ['vote-kind signature over the same payload', { ...sth, signature: key.sign('vote', treeHeadSigningPayload(sth)) }],
    ['garbage signature', { ...sth, signature: 'AAAA' }],
    ['negative size', { ...sth, treeSize: -1 }],
    ['string size', { ...sth, treeSize: '8' as unknown as number }],
  ];
  for (const [name, bad] of tampered) {
    test(`refused: ${name}`, () => assert.equal(verifyTreeHead(key.publicKey, bad), false));
  }
  test('verified against another key: false', () => assert.equal(verifyTreeHead(other.publicKey, sth), false));
  test('null gives false', () => assert.equal(verifyTreeHead(key.publicKey, null as unknown as SignedTreeHead), false));

  const badInput: Array<[string, Record<string, unknown>]> = [
    ['fractional size', { treeSize: 1.5 }],
    ['uppercase root', { rootHash: ROOT8.toUpperCase() }],
    ['timestamp without zone', { timestamp: '2026-03-01T00:00:00' }],
    ['timestamp on April 31', { timestamp: '2026-04-31T00:00:00Z' }],
  ];
  for (const [name, change] of badInput) {
    test(`signTreeHead refuses ${name}`, () => {
      assert.throws(() => signTreeHead(key, { ...head, ...change }), TreeHeadInputError);
    });
  }
});
