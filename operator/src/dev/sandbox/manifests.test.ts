import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../runtime/types.ts';
import { namespacesOf, readManifestDir, remoteSource } from './manifests.ts';

const feed = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'f' }, spec });

describe('remoteSource', () => {
  const cases: Array<[string, KubeObject, string | undefined]> = [
    ['internet URL', feed({ url: 'https://feodotracker.abuse.ch/x.csv' }), 'https://feodotracker.abuse.ch/x.csv'],
    ['TAXII discovery URL', feed({ taxii: { discoveryUrl: 'https://taxii.example/taxii2/', collection: 'c' } }), 'https://taxii.example/taxii2/'],
    ['loopback IPv4', feed({ url: 'http://127.0.0.1:8080/a.txt' }), undefined],
    ['localhost', feed({ url: 'http://localhost/a.txt' }), undefined],
    ['loopback IPv6', feed({ url: 'http://[::1]:9/a' }), undefined],
    ['unparseable URL counts as remote', feed({ url: 'http//broken' }), 'http//broken'],
    ['not a Feed', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, undefined],
  ];
  for (const [name, obj, want] of cases) test(name, () => assert.equal(remoteSource(obj), want));
});

test('namespacesOf lists each namespace once, sorted, without default', () => {
  const objs: KubeObject[] = ['b', 'a', 'b', 'default', undefined].map((namespace, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}`, ...(namespace ? { namespace } : {}) } }));
  assert.deepEqual(namespacesOf(objs).map((n) => [n.kind, n.metadata.name]), [['Namespace', 'a'], ['Namespace', 'b']]);
});

test('readManifestDir reads the repository samples recursively with their file names', async () => {
  const objs = await readManifestDir(new URL('../../../../config/samples/', import.meta.url).pathname);
  const pn = objs.filter((o) => o.object.kind === 'PartnerNode');
  assert.deepEqual(pn.map((o) => [o.source, o.object.metadata.name]), [['partnernodes.yaml', 'acme'], ['partnernodes.yaml', 'globex'], ['partnernodes.yaml', 'initech']]);
  assert.ok(objs.some((o) => o.source === 'feeds/feodo.yaml'), 'subdirectories are read');
});
