import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS } from './index.ts';
import type { SchemaNode } from './common.ts';

/** Every property of `node` and below, as `path` → its schema (items and map values walked too). */
function fields(node: SchemaNode, path: string, out: Map<string, SchemaNode> = new Map()): Map<string, SchemaNode> {
  for (const [name, child] of Object.entries((node['properties'] ?? {}) as Record<string, SchemaNode>)) {
    out.set(`${path}.${name}`, child);
    fields(child, `${path}.${name}`, out);
  }
  const items = node['items'];
  if (typeof items === 'object' && items !== null) fields(items as SchemaNode, `${path}[]`, out);
  const values = node['additionalProperties'];
  if (typeof values === 'object' && values !== null) fields(values as SchemaNode, `${path}{}`, out);
  return out;
}

// The API server accepts nothing but `type: object` on a CRD's metadata; kubectl explain shows ObjectMeta's own text there.
const EXEMPT = new Set(KINDS.map((k) => `${k.kind}.metadata`));

describe('every CRD field has a description, so kubectl explain teaches the API', () => {
  for (const kind of KINDS) {
    test(kind.kind, () => {
      const all = fields(kind.schema, kind.kind);
      const missing = [...all].filter(([path, s]) => !EXEMPT.has(path) && (typeof s['description'] !== 'string' || s['description'].trim().length < 3)).map(([path]) => path);
      assert.deepEqual(missing, [], `${missing.length} of ${all.size} fields of ${kind.kind} have no description`);
      assert.ok(all.size > 5, `${kind.kind}: the walk found only ${all.size} fields`);
    });
  }
  test('the walk reaches nested objects, list items and map values', () => {
    const all = fields({ properties: { a: { properties: { b: {} } }, l: { items: { properties: { c: {} } } }, m: { additionalProperties: { properties: { d: {} } } } } }, 'K');
    assert.deepEqual([...all.keys()], ['K.a', 'K.a.b', 'K.l', 'K.l[].c', 'K.m', 'K.m{}.d']);
  });
});
