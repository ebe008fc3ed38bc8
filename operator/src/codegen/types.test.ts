import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { named, obj, str, list, type KindDefinition } from '../api/schemas/common.ts';
import { renderTypes } from './types.ts';

test('api/types.ts is exactly what the schemas generate (run npm run generate after changing a schema)', async () => {
  assert.equal(await readFile(new URL('../api/types.ts', import.meta.url), 'utf8'), renderTypes());
});

const kind = (spec: Record<string, unknown>): KindDefinition => ({ kind: 'Thing', plural: 'things', singular: 'thing', shortNames: [], printerColumns: [], schema: obj({ spec }, ['spec'], { description: 'A thing.' }) });

test('required members are mandatory, named nodes become one declaration, enums unions, maps records', () => {
  const color = named('Color', { type: 'string', enum: ['red', 'green'] }, 'A color.');
  const out = renderTypes([kind(obj({ a: str(3, { description: 'first' }), b: list(color, 2), c: { type: 'object', additionalProperties: { type: 'integer' } }, d: color }, ['a']))]);
  assert.match(out, /\/\*\* A color\. \*\/\nexport type Color = 'red' \| 'green';/);
  assert.match(out, /\/\*\* first \*\/\n {4}a: string;\n {4}b\?: Color\[\];\n {4}c\?: Record<string, number>;\n {4}d\?: Color;/);
  assert.match(out, /export interface Thing extends KubeObject \{\n {2}spec: \{/);
});

test('two different schemas under one type name are refused', () => {
  const a = named('Dup', obj({ x: str(1) }));
  const b = named('Dup', obj({ y: str(1) }));
  assert.throws(() => renderTypes([kind(obj({ a, b }))]), /schema nodes named Dup differ/);
});
