import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, indicatorCanonicalJson, indicatorDigest, indicatorObjectName, jsonDataProblem } from './canonical.ts';
import { INDICATOR_TYPES, normalize, type Indicator } from './indicator.ts';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

describe('canonicalJson: RFC 8785 examples', () => {
  test('§3.2.2 sample: numbers, escapes, literals, key order', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
      ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
      ' "literals": [null, true, false]}',
    ) as unknown;
    assert.equal(canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  test('§3.2.3 sorting by UTF-16 code units', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const expected = '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
      '"€":"Euro Sign","😀":"Emoji: Grinning Face","דּ":"Hebrew Letter Dalet With Dagesh"}';
    assert.equal(canonicalJson(input), expected);
  });

  // Appendix B: IEEE 754 bit patterns and their canonical text.
  const numbers: readonly (readonly [string, string])[] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, text] of numbers) {
    test(`number 0x${bits} → ${text}`, () => assert.equal(canonicalJson([fromBits(bits)]), `[${text}]`));
  }

  test('more number forms: 1e30 and 4.5e-7', () => {
    assert.equal(canonicalJson({ a: 1e30, b: 4.5e-7, c: -0, d: 100 }), '{"a":1e+30,"b":4.5e-7,"c":0,"d":100}');
  });

  test('nested objects are sorted at every level; undefined members are omitted', () => {
    assert.equal(canonicalJson({ b: [{ z: 1, a: 2 }], a: { y: null, x: undefined } }), '{"a":{"y":null},"b":[{"a":2,"z":1}]}');
  });
});

describe('canonicalJson: refuses what is not JSON', () => {
  const cases: readonly (readonly [string, unknown])[] = [
    ['NaN', { a: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['bigint', { a: 1n }],
    ['function', { a: () => 1 }],
    ['symbol', [Symbol('x')]],
    ['undefined at top level', undefined],
    ['undefined in an array', [undefined]],
    ['Date', { at: new Date(0) }],
    ['Map', new Map()],
    ['lone surrogate', { a: '\ud800' }],
    ['lone surrogate in a key', { '\udc00': 1 }],
  ];
  for (const [name, value] of cases) {
    test(name, () => {
      assert.throws(() => canonicalJson(value), TypeError);
      assert.equal(typeof jsonDataProblem(value), 'string', 'jsonDataProblem names it without throwing');
    });
  }
  test('jsonDataProblem names the path of a lone surrogate and accepts plain data', () => {
    assert.equal(jsonDataProblem({ meta: { labels: ['ok', '\ud800'] } }), '$.meta.labels[1] contains a lone surrogate');
    assert.equal(jsonDataProblem({ a: [1, 'x', null, { b: true }] }), undefined);
  });
  test('a cycle', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    assert.throws(() => canonicalJson(a), TypeError);
  });
});

describe('indicator digest', () => {
  test('known answer: the digest is SHA-256 of the hand-written canonical text', () => {
    const ind: Indicator = { type: 'domain', value: 'example.com' };
    const literal = '{"type":"domain","value":"example.com"}';
    assert.equal(indicatorCanonicalJson(ind), literal);
    assert.equal(canonicalJson(ind), literal);
    assert.equal(indicatorDigest(ind), sha256(literal));
    assert.equal(indicatorDigest(ind), '5253cef32f9d62fe6fa39cc3f78f2dd99a661d6b51d5fe5c36bc66ba2ac741da');
    assert.equal(indicatorDigest({ type: 'ipv4', value: '192.0.2.1' }), '9e1497666069b193556d20c56cd315dc2c2f20c174a00a8ccc653d560fe4a0e2');
  });

  test('only type and value count', () => {
    const extra = { type: 'domain', value: 'example.com', confidence: 90, source: 'feed-a' } as Indicator;
    assert.equal(indicatorDigest(extra), indicatorDigest({ type: 'domain', value: 'example.com' }));
    assert.notEqual(indicatorDigest({ type: 'ipv4', value: '192.0.2.1' }), indicatorDigest({ type: 'cidr', value: '192.0.2.1/32' }));
  });

  test('the same indicator from two feeds in different raw forms has one digest and one name', () => {
    const a = normalize('domain', 'EXAMPLE.com.');
    const b = normalize('domain', 'example.com');
    assert.ok(a.ok && b.ok);
    assert.equal(indicatorDigest(a.indicator), indicatorDigest(b.indicator));
    assert.equal(indicatorObjectName(a.indicator), indicatorObjectName(b.indicator));
  });

  test('the fast canonical text equals canonicalJson for any well-formed value', () => {
    fc.assert(fc.property(fc.constantFrom(...INDICATOR_TYPES), fc.string({ unit: 'grapheme', maxLength: 40 }), (type, value) => {
      assert.equal(indicatorCanonicalJson({ type, value }), canonicalJson({ type, value }));
    }));
  });

  test('the plain-ASCII shortcut quotes exactly as canonicalJson at its boundaries', () => {
    for (const value of ['', ' ', '~', '"', '\\', '\u001f', '\u007f', '\u0080', 'a"b', 'a\\b', 'example.com', 'http://x/?a=1&b=<2>', 'é.example']) {
      assert.equal(indicatorCanonicalJson({ type: 'url', value }), canonicalJson({ type: 'url', value }), JSON.stringify(value));
    }
    fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0x1e, max: 0x80 }).map((c) => String.fromCharCode(c)), maxLength: 30 }), (value) => {
      assert.equal(indicatorCanonicalJson({ type: 'domain', value }), canonicalJson({ type: 'domain', value }));
    }));
  });

  test('a lone surrogate is refused rather than hashed', () => {
    assert.throws(() => indicatorDigest({ type: 'domain', value: 'a\ud800' }), TypeError);
  });
});

describe('indicatorObjectName', () => {
  test('is a DNS-1123 label for every type', () => {
    for (const type of INDICATOR_TYPES) {
      const name = indicatorObjectName({ type, value: 'x' });
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      assert.ok(name.length <= 63, name);
      assert.ok(name.startsWith(`${type}-`));
      assert.equal(name, `${type}-${indicatorDigest({ type, value: 'x' }).slice(0, 40)}`);
    }
  });
  test('known answer', () => {
    assert.equal(indicatorObjectName({ type: 'domain', value: 'example.com' }), 'domain-5253cef32f9d62fe6fa39cc3f78f2dd99a661d6b');
  });
});
