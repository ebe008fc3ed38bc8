import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TLP_ENUM } from '../api/schemas/threatindicator.ts';
import { SigningKey } from './signature.ts';
import { entryLeafData, entryLeafHash, META_TLP, metaJson, parseIndicatorJson, parseMetaJson, proposalPayload, signProposal, validateMeta, verifyProposal, type EntryBody, type IndicatorMeta } from './entry.ts';

// Computed with the code before signed metadata existed (commit 88da51b): an entry without
// meta must keep exactly these bytes, so stored logs and signed tree heads keep verifying.
const PINNED_LEAF_HASH = '4d8a2fed07288e82599d1090667516e6a204b8533ddf5c5ea4fce6ca568d8e13';
const LEGACY: EntryBody = {
  kind: 'add', indicator: { type: 'domain', value: 'evil.example' }, proposerId: 'alpha', proposalSignature: 'cHJvcG9zYWw=',
  window: { opensAt: '2026-11-25T12:00:00.000Z', closesAt: '2026-11-26T12:00:00.000Z' },
  votes: [
    { partnerId: 'bravo', digest: 'd1', decision: 'approve', signedAt: '2026-11-25T12:01:00.000Z', signature: 'c2ln' },
    { partnerId: 'alpha', digest: 'd1', decision: 'reject', reason: 'no', signedAt: '2026-11-25T12:02:00.000Z', signature: 'c2lnMg==' },
  ],
};

describe('entries without metadata keep their bytes', () => {
  test('leaf hash of an entry without meta is the one pinned before metadata existed', () => {
    assert.equal(entryLeafHash(LEGACY), PINNED_LEAF_HASH);
    assert.doesNotMatch(entryLeafData(LEGACY), /meta/);
  });

  test('an ADD proposal without meta signs the canonical indicator alone', () => {
    assert.deepEqual(proposalPayload('add', LEGACY.indicator), { kind: 'proposal', text: '{"type":"domain","value":"evil.example"}' });
  });
});

const META: IndicatorMeta = { tlp: 'amber', confidence: 80, labels: ['emotet', 'c2'], validFrom: '2026-11-25T00:00:00Z', validUntil: '2026-12-25T00:00:00Z', source: 'feeds/abuse-ch' };

describe('validateMeta', () => {
  const cases: Array<[string, unknown, RegExp | 'ok']> = [
    ['every member', META, 'ok'],
    ['one member', { confidence: 0 }, 'ok'],
    ['not an object', ['amber'], /must be an object/],
    ['empty object', {}, /no members; send no meta/],
    ['unknown member', { confidence: 50, severity: 'high' }, /unknown member\(s\) "severity"; allowed: confidence, labels, source, tlp, validFrom, validUntil/],
    ['unknown TLP', { tlp: 'white' }, /meta.tlp must be one of clear, green, amber, amber\+strict, red/],
    ['upper-case TLP', { tlp: 'AMBER' }, /meta.tlp/],
    ['fractional confidence', { confidence: 50.5 }, /meta.confidence must be an integer from 0 to 100/],
    ['confidence above 100', { confidence: 101 }, /meta.confidence/],
    ['confidence as text', { confidence: '80' }, /meta.confidence/],
    ['empty label list', { labels: [] }, /meta.labels must be a list of 1 to 32/],
    ['33 labels', { labels: Array.from({ length: 33 }, (_, i) => `l${i}`) }, /1 to 32/],
    ['label too long', { labels: ['x'.repeat(65)] }, /meta.labels\[0\] must be a non-empty string of at most 64/],
    ['empty label', { labels: ['a', ''] }, /meta.labels\[1\]/],
    ['repeated label', { labels: ['a', 'a'] }, /must not repeat/],
    ['validFrom without a zone', { validFrom: '2026-11-25T00:00:00' }, /meta.validFrom must be an RFC 3339 timestamp/],
    ['validUntil not a date', { validUntil: 'tomorrow' }, /meta.validUntil/],
    ['validFrom on April 31 (Date.parse rolls it to May 1)', { validFrom: '2026-04-31T00:00:00Z' }, /meta.validFrom must be an RFC 3339 timestamp/],
    ['validUntil at 24:00', { validUntil: '2026-11-25T24:00:00Z' }, /meta.validUntil must be an RFC 3339 timestamp/],
    ['validUntil before validFrom', { validFrom: '2026-11-25T00:00:00Z', validUntil: '2026-11-24T00:00:00Z' }, /validUntil must be after meta.validFrom/],
    ['empty source', { source: '' }, /meta.source must be a non-empty string of at most 253/],
    ['source too long', { source: 's'.repeat(254) }, /meta.source/],
    ['a label with a lone surrogate', { labels: ['ok', 'c2\ud800'] }, /meta.labels\[1\] contains a lone UTF-16 surrogate/],
    ['a source with a lone surrogate', { source: '\udc00feed' }, /meta.source contains a lone UTF-16 surrogate/],
  ];
  for (const [name, value, want] of cases) {
    test(name, () => {
      const r = validateMeta(value);
      if (want === 'ok') assert.deepEqual(r, value);
      else {
        assert.equal(typeof r, 'string');
        assert.match(r as string, want);
      }
    });
  }

  test('the TLP markings are the ThreatIndicator CRD\'s', () => {
    assert.deepEqual([...META_TLP], [...TLP_ENUM]);
  });
});

describe('parseMetaJson', () => {
  test('the empty string is no metadata', () => {
    assert.deepEqual(parseMetaJson(''), { ok: true, meta: undefined });
  });
  test('canonical JSON round-trips through metaJson', () => {
    const json = metaJson(META);
    assert.deepEqual(parseMetaJson(json), { ok: true, meta: { ...META } });
    assert.equal(metaJson(undefined), '');
  });
  const refused: Array<[string, string, RegExp]> = [
    ['not canonical (member order)', '{"tlp":"amber","confidence":80}', /not in RFC 8785 canonical form/],
    ['not canonical (white space)', '{"confidence": 80}', /canonical/],
    ['not JSON', 'tlp=amber', /does not parse/],
    ['invalid', '{"confidence":-1}', /meta.confidence/],
    ['over 4096 bytes', JSON.stringify({ source: 'x'.repeat(4100) }), /longer than 4096 bytes/],
    // JSON escapes can spell lone surrogates that UTF-8 on the wire cannot: refused with a reason, never thrown (trust model).
    ['a label that is a lone surrogate', '{"labels":["\\ud800"]}', /meta.labels\[0\] contains a lone UTF-16 surrogate/],
    ['a source with a lone low surrogate', '{"source":"feeds/\\udfff"}', /meta.source contains a lone UTF-16 surrogate/],
  ];
  for (const [name, json, message] of refused) {
    test(`refuses ${name}`, () => {
      const r = parseMetaJson(json);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.reason, 'invalid-meta');
        assert.match(r.message, message);
      }
    });
  }
});

describe('parseIndicatorJson', () => {
  test('a value with a lone surrogate (a JSON escape UTF-8 cannot carry) is refused with a reason, not thrown', () => {
    for (const json of ['{"type":"domain","value":"\\ud800.example"}', '{"type":"url","value":"http://a.net/\\udc00"}']) {
      const r = parseIndicatorJson(json);
      assert.equal(r.ok, false, json);
      if (!r.ok) assert.deepEqual([r.reason, /lone UTF-16 surrogate/.test(r.message)], ['malformed-indicator', true], r.message);
    }
  });
});

describe('proposals with metadata', () => {
  const key = SigningKey.generate();
  const ind = LEGACY.indicator;

  test('an ADD with meta signs canonical {indicator, meta}', () => {
    assert.equal(proposalPayload('add', ind, { confidence: 80, tlp: 'amber' }).text, '{"indicator":{"type":"domain","value":"evil.example"},"meta":{"confidence":80,"tlp":"amber"}}');
  });

  test('the proposer signature covers the metadata: any change after signing is refused', () => {
    const sig = signProposal(key, 'add', ind, META);
    assert.equal(verifyProposal(key.publicKey, 'add', ind, sig, META), true);
    const changed: Array<[string, IndicatorMeta | undefined]> = [
      ['stripped', undefined],
      ['confidence raised', { ...META, confidence: 100 }],
      ['TLP lowered', { ...META, tlp: 'clear' }],
      ['label dropped', { ...META, labels: ['emotet'] }],
      ['labels reordered', { ...META, labels: ['c2', 'emotet'] }],
      ['validity extended', { ...META, validUntil: '2027-12-25T00:00:00Z' }],
      ['source swapped', { ...META, source: 'feeds/other' }],
    ];
    for (const [name, meta] of changed) assert.equal(verifyProposal(key.publicKey, 'add', ind, sig, meta), false, name);
  });

  test('a signature over the indicator alone does not verify with metadata added', () => {
    const sig = signProposal(key, 'add', ind);
    assert.equal(verifyProposal(key.publicKey, 'add', ind, sig), true);
    assert.equal(verifyProposal(key.publicKey, 'add', ind, sig, { confidence: 99 }), false);
  });

  test('a revocation carries no metadata', () => {
    assert.throws(() => signProposal(key, 'revoke', ind, META), /revocation carries no metadata/);
    assert.equal(verifyProposal(key.publicKey, 'revoke', ind, signProposal(key, 'revoke', ind), META), false);
  });

  test('the leaf bytes include the metadata, so the tree head commits to it', () => {
    const withMeta = { ...LEGACY, meta: META };
    assert.match(entryLeafData(withMeta), /"meta":\{"confidence":80,"labels":\["emotet","c2"\],"source":"feeds\/abuse-ch","tlp":"amber",/);
    assert.notEqual(entryLeafHash(withMeta), PINNED_LEAF_HASH);
    assert.notEqual(entryLeafHash(withMeta), entryLeafHash({ ...LEGACY, meta: { ...META, confidence: 81 } }));
  });

  test('members outside the metadata never reach the signed or hashed bytes', () => {
    const extra = { ...META, severity: 'high' } as IndicatorMeta;
    assert.equal(proposalPayload('add', ind, extra).text, proposalPayload('add', ind, META).text);
    assert.equal(entryLeafHash({ ...LEGACY, meta: extra }), entryLeafHash({ ...LEGACY, meta: META }));
  });
});
