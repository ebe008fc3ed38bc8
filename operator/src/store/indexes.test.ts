import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFerretDb1 } from './indexes.ts';

test('isFerretDb1: only a FerretDB 1.x buildInfo skips the query indexes', () => {
  const rows: Array<[string, Record<string, unknown>, boolean]> = [
    ['FerretDB 1.24 (v-prefixed, as 1.24.2 answers)', { version: '7.0.77', ferretdbVersion: 'v1.24.2' }, true],
    ['FerretDB 1.x without the v', { version: '7.0.42', ferretdbVersion: '1.10.0' }, true],
    ['FerretDB 1.24.2 built from source without its version file (e2e/controlplane/build.sh)', { version: '7.0.77', ferretdbVersion: 'unknown' }, true],
    ['FerretDB 2 (DocumentDB engine, reads indexes)', { version: '7.0.77', ferretdbVersion: 'v2.1.0' }, false],
    ['MongoDB', { version: '7.0.14', gitVersion: 'abc' }, false],
    ['a version that only looks like 1.x elsewhere', { version: '1.2.3' }, false],
    ['a non-string ferretdbVersion', { ferretdbVersion: 1 }, false],
    ['FerretDB 10 is not 1.x', { ferretdbVersion: 'v10.0.0' }, false],
    ['FerretDB 2 without the v', { ferretdbVersion: '2.0.0' }, false],
  ];
  for (const [name, info, want] of rows) assert.equal(isFerretDb1(info), want, name);
});
