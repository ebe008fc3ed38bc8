import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configMapEntries } from './allowlists.ts';
import { FeedError } from './types.ts';

const cm = {
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'corp', namespace: 'ns' },
  data: { 'b.txt': '# partners\n203.0.112.0/24\n\nvpn.example-corp.net  # VPN\n', 'a.txt': '51.178.161.32\n' },
};

describe('configMapEntries', () => {
  const cases: Array<[string, string | undefined, string[]]> = [
    ['every key, in key order, comments and blank lines dropped', undefined, ['51.178.161.32', '203.0.112.0/24', 'vpn.example-corp.net']],
    ['one key', 'b.txt', ['203.0.112.0/24', 'vpn.example-corp.net']],
  ];
  for (const [name, key, want] of cases) {
    test(name, () => {
      assert.deepEqual(configMapEntries(cm, key, 'ns/corp'), want);
    });
  }

  test('an empty ConfigMap holds no entries', () => {
    assert.deepEqual(configMapEntries({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'e' } }, undefined, 'ns/e'), []);
  });

  test('a missing key is a configuration error naming the ConfigMap and the key', () => {
    assert.throws(() => configMapEntries(cm, 'c.txt', 'ns/corp'), (e: unknown) => e instanceof FeedError && e.code === 'bad-config' && e.message.includes('ns/corp') && e.message.includes('"c.txt"'));
  });
});
