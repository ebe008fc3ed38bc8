import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerSchema, citationsOf, parseAnswer, summaryOf, DEFAULT_LIMITS } from './answer.ts';

const D1 = 'a'.repeat(64);
const D2 = 'b'.repeat(64);
const good = { headline: 'Two C2 servers', keyThreats: [{ title: 'C2', citations: [D1, D2] }, { title: 'again', citations: [D1] }], trends: ['up'], recommendedActions: ['block'] };

test('parseAnswer: JSON, then the schema (ajv), with the failing paths', () => {
  const constrained = answerSchema(DEFAULT_LIMITS, [D1, D2]);
  const loose = answerSchema(DEFAULT_LIMITS);
  const cases: Array<[string, string, Record<string, unknown>, true | RegExp]> = [
    ['valid, constrained', JSON.stringify(good), constrained, true],
    ['not JSON', '{"headline": ', constrained, /not JSON/],
    ['a citation outside the enum', JSON.stringify({ ...good, keyThreats: [{ title: 'x', citations: ['https://invented.example/'] }] }), constrained, /\/keyThreats\/0\/citations\/0 must be equal to one of the allowed values/],
    ['the same citation without the constraint', JSON.stringify({ ...good, keyThreats: [{ title: 'x', citations: ['https://invented.example/'] }] }), loose, true],
    ['a missing member', JSON.stringify({ headline: 'x', keyThreats: good.keyThreats, trends: [] }), loose, /must have required property 'recommendedActions'/],
    ['an extra member', JSON.stringify({ ...good, extra: 1 }), loose, /must NOT have additional properties/],
    ['too long a headline', JSON.stringify({ ...good, headline: 'x'.repeat(161) }), loose, /\/headline must NOT have more than 160 characters/],
    ['no key threat', JSON.stringify({ ...good, keyThreats: [] }), loose, /\/keyThreats must NOT have fewer than 1 items/],
  ];
  for (const [name, text, schema, want] of cases) {
    const r = parseAnswer(text, schema);
    if (want === true) assert.ok(r.ok, `${name}: ${r.ok ? '' : r.problems.join('; ')}`);
    else assert.ok(!r.ok && r.problems.some((p) => want.test(p)), `${name}: ${r.ok ? 'accepted' : r.problems.join('; ')}`);
  }
});

test('citations are collected once each in order, and a summary records its generator', () => {
  assert.deepEqual(citationsOf(good), [D1, D2]);
  const s = summaryOf(good, 'model');
  assert.equal(s.generator, 'model');
  assert.deepEqual(s.citations, [D1, D2]);
});

test('the schema puts the headline first (grammar-constrained servers emit members in schema order)', () => {
  const s = answerSchema(DEFAULT_LIMITS, [D1]) as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(s.properties), ['headline', 'keyThreats', 'trends', 'recommendedActions']);
  assert.match(JSON.stringify(s.properties['keyThreats']), new RegExp(`"citations":\\{"type":"array","items":\\{"type":"string","enum":\\["${D1}"\\]\\}`));
});

test('fitLimits: the longest possible answer fits max_tokens, shrinking from the defaults', async () => {
  const { fitLimits, worstCaseTokens } = await import('./answer.ts');
  const cases: Array<[number, Partial<typeof DEFAULT_LIMITS>]> = [
    [5000, DEFAULT_LIMITS], [1500, { threats: 3, citations: 3, sentences: 2 }], [800, { threats: 3, citations: 1 }], [400, { threats: 2, citations: 1 }], [320, { threats: 1, citations: 1, sentences: 1 }], [256, { threats: 1, citations: 1, sentences: 1 }],
  ];
  for (const [maxTokens, want] of cases) {
    const l = fitLimits(maxTokens);
    assert.ok(worstCaseTokens(l) <= maxTokens, `${maxTokens}: ${worstCaseTokens(l)}`);
    for (const [k, v] of Object.entries(want)) assert.equal(l[k as keyof typeof l], v, `${maxTokens}: ${k}`);
    for (const k of Object.keys(l) as Array<keyof typeof l>) assert.ok(l[k] <= DEFAULT_LIMITS[k] && l[k] >= 1, `${maxTokens}: ${k} within bounds`);
  }
});
