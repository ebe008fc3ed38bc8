import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatJsonBound, writeFlatJson } from './jsonbuf.ts';

/** Records whose bytes must equal JSON.stringify's. */
const SAME_AS_STRINGIFY: ReadonlyArray<{ name: string; record: object }> = [
  { name: 'a preview line', record: { type: 'ipv4', value: '11.0.0.0', pattern: "[ipv4-addr:value = '11.0.0.0']", digest: 'fc05', fields: undefined, where: 'line 2' } },
  { name: 'kept fields', record: { type: 'cidr', value: '12.0.0.0/24', fields: { remark: 'SBL1', port: '443' }, where: 'line 3' } },
  { name: 'quotes and backslashes', record: { value: 'a"b\\c', fields: { 'k"ey': 'v\\' } } },
  { name: 'control characters', record: { value: 'tab\there\nnew\u0000nul\u001f' } },
  { name: 'non-ASCII', record: { value: 'bücher.example', fields: { note: 'größe ✓ 日本' } } },
  { name: 'a surrogate pair', record: { value: 'smile 😀' } },
  { name: 'lone surrogates', record: { value: 'bad \ud800 and \udfff' } },
  { name: 'an empty object and string', record: { value: '', fields: {} } },
  { name: 'a __proto__ field', record: { fields: JSON.parse('{"__proto__":"x","a":"b"}') as object } },
  { name: 'integer-like keys first', record: { b: 'x', 1: 'y', fields: { z: '1', 0: '2' } } },
  { name: 'an object without prototype', record: { fields: Object.assign(Object.create(null) as object, { a: 'b' }) } },
];

for (const c of SAME_AS_STRINGIFY) {
  test(`writeFlatJson writes what JSON.stringify does: ${c.name}`, () => {
    const bound = flatJsonBound(c.record);
    assert.ok(bound !== undefined, 'accepted');
    const buf = Buffer.alloc(bound + 8, 0xff);
    const end = writeFlatJson(buf, 4, c.record);
    assert.ok(end - 4 <= bound, 'within the bound');
    assert.equal(buf.subarray(4, end).toString('utf8'), JSON.stringify(c.record));
    assert.equal(buf[end], 0xff, 'nothing written past the end');
  });
}

class WithProto {
  readonly value = 'x';
}

/** Records left to JSON.stringify. */
const REFUSED: ReadonlyArray<{ name: string; record: object }> = [
  { name: 'a number field', record: { value: 'x', fields: { port: 443 } } },
  { name: 'a nested object', record: { fields: { a: { b: 'c' } } } },
  { name: 'an array', record: { labels: ['a'] } },
  { name: 'a number', record: { n: 1 } },
  { name: 'null', record: { v: null } },
  { name: 'toJSON', record: { value: 'x', toJSON: () => 'y' } },
  { name: 'a class instance', record: new WithProto() },
  { name: 'inherited keys', record: Object.create({ inherited: 'x' }) as object },
];

for (const c of REFUSED) {
  test(`flatJsonBound leaves ${c.name} to JSON.stringify`, () => {
    assert.equal(flatJsonBound(c.record), undefined);
  });
}
