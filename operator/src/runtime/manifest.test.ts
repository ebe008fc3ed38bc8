import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests } from './manifest.ts';

describe('parseManifests', () => {
  test('splits documents and skips empty ones', () => {
    const objs = parseManifests('---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: v}\n');
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`), ['Namespace/a', 'ConfigMap/b']);
  });
  test('rejects a document without kind, naming the document', () => {
    assert.throws(() => parseManifests('apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n', 'x.yaml'), /x\.yaml: document 2 needs apiVersion, kind and metadata\.name/);
  });
  test('rejects malformed YAML', () => {
    assert.throws(() => parseManifests('a: [\n', 'y.yaml'), /y\.yaml: document 1 is not valid YAML/);
  });
});
