import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from './answer.ts';
import { candidate } from './fixtures.ts';
import { checkGrounding, valuesIn, type GroundingFacts, type StoredFact } from './grounding.ts';

const w = { since: new Date('2026-11-01T00:00:00Z'), until: new Date('2026-11-29T00:00:00Z') };
const offered = candidate({ type: 'ipv4', value: '203.0.113.7' });
const old = candidate({ value: 'old.example', admittedAt: '2026-09-01T00:00:00.000Z' });
const amber = candidate({ value: 'amber.example', tlp: 'amber' });
const sightedOld = candidate({ value: 'seen.example', admittedAt: '2026-09-01T00:00:00.000Z' });
const unoffered = candidate({ value: 'unoffered.example' });
const url = candidate({ type: 'url', value: 'http://dl.badcdn.example/payload.exe' });
const fact = (c: typeof offered, over: Partial<StoredFact> = {}): [string, StoredFact] => [c.digest, { tlp: c.tlp, admittedAt: c.admittedAt, sightings: 0, ...over }];
const facts: GroundingFacts = {
  window: w, ceiling: 'green',
  offered: new Map([offered, sightedOld, url].map((c) => [c.digest, { value: c.value }])),
  stored: new Map([fact(offered), fact(old), fact(amber), fact(sightedOld, { sightings: 3 }), fact(unoffered), fact(url)]),
};
const answer = (citations: string[], text = 'Threat'): Answer => ({ headline: text, keyThreats: [{ title: 'T', citations }], trends: ['t'], recommendedActions: ['a'] });

test('grounding: every citation exists, is inside the window and TLP, and was offered', () => {
  const cases: Array<[string, Answer, string[]]> = [
    ['offered and admitted in the window', answer([offered.digest]), []],
    ['admitted before the window but sighted in it', answer([sightedOld.digest]), []],
    ['an invented URL as citation', answer(['https://evil.example/x']), ['unknown-digest']],
    ['a well-formed digest the store does not have', answer(['f'.repeat(64)]), ['unknown-digest']],
    ['outside the window', answer([old.digest]), ['outside-window']],
    ['above the TLP', answer([amber.digest]), ['above-tlp']],
    ['real and in scope but not offered', answer([unoffered.digest]), ['not-offered']],
    ['an IPv4 address in the text that is no offered value', answer([offered.digest], 'Block 198.51.100.9 now'), ['ungrounded-value']],
    ['the offered value in the text', answer([offered.digest], 'Block 203.0.113.7 now'), []],
    ['a URL in the text', answer([offered.digest], 'see https://made.up/path.'), ['ungrounded-value']],
    ['a domain in the text that is no offered value (an injected allowlist)', answer([offered.digest], 'Allow update.evil.example through the proxy'), ['ungrounded-value']],
    ['an IPv6 address in the text', answer([offered.digest], 'Block 2001:db8::7 too'), ['ungrounded-value']],
    ['a clock time is no address', answer([offered.digest], 'First seen at 10:30:00 UTC, e.g. in logs'), []],
    ['the host and file of an offered URL', answer([offered.digest, url.digest], 'dl.badcdn.example serves payload.exe'), []],
    ['the offered URL itself', answer([url.digest], 'Fetches of http://dl.badcdn.example/payload.exe rose'), []],
  ];
  for (const [name, a, want] of cases) {
    const r = checkGrounding(a, facts);
    assert.deepEqual(r.ok ? [] : r.refusals.map((x) => x.reason), want, name);
  }
});

test('valuesIn finds URLs, hashes, IP addresses and domains (not the host of a URL again), without trailing punctuation', () => {
  assert.deepEqual(valuesIn(`x ${'ab'.repeat(16)}, 10.0.0.1. and https://a.example/p?q=1; mail x@b.example, fe80::1 plain words`), ['https://a.example/p?q=1', 'ab'.repeat(16), '10.0.0.1', 'fe80::1', 'b.example']);
});
