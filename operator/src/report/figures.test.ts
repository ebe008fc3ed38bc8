/**
 * Grounded numbers: every figure a summary states must be one the writer was given. Tables of
 * honest and adversarial answers against the facts text a model receives (report/prompt.ts),
 * and the summarizer refusing a model's invented figures, regenerating, then falling back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Answer } from './answer.ts';
import { candidate } from './fixtures.ts';
import { digitRuns, figuresIn } from './figures.ts';
import { answerSchema, parseAnswer } from './answer.ts';
import { checkGrounding, figuresOfFacts, withoutValues, type GroundingFacts } from './grounding.ts';
import { ReportMetrics } from './metrics.ts';
import type { ChatModel, ModelReply } from './model.ts';
import { weeksOf } from './period.ts';
import { buildMessages, type ModelRequest } from './prompt.ts';
import { summarize, type SummarySource } from './summarize.ts';
import { assembleTrends, type Trends } from './trends.ts';

const w = { since: new Date('2026-11-30T00:00:00Z'), until: new Date('2026-12-07T00:00:00Z') };
const ip = candidate({ type: 'ipv4', value: '203.0.113.7', sightings: 1234, confidence: 85, labels: ['malware:qakbot'], admittedAt: '2026-12-02T10:00:00.000Z' });
const dom = candidate({ value: 'c2.example', sightings: 0, confidence: 60, admittedAt: '2026-11-12T00:00:00.000Z', state: 'revoked', revokedAt: '2026-12-03T00:00:00.000Z' });
const OFFERED = [ip, dom];

function trends(): Trends {
  return assembleTrends(w, 'green', {
    byType: { ipv4: 12, domain: 30 }, byFeed: { abuse: 40, spam: 2 }, byPartner: {},
    weeks: weeksOf(w).map((b, i) => ({ ...b, admitted: i === 0 ? 42 : 0, revoked: i === 0 ? 1 : 0, sightings: i === 0 ? 1234 : 0 })),
    timeToQuorumMs: [4_000, 9_000, 9_000], labels: {}, heatmap: [], feeds: [], undated: 0,
  }, [{ at: new Date('2026-12-01T00:00:00Z'), type: 'domain', feed: 'spam', proposerId: 'p' }]);
}

const factsText = buildMessages(OFFERED, w, trends()).filter((m) => m.role === 'user').map((m) => m.content).join('\n');
const facts: GroundingFacts = {
  window: w, ceiling: 'green',
  offered: new Map(OFFERED.map((c) => [c.digest, { value: c.value }])),
  stored: new Map(OFFERED.map((c) => [c.digest, { tlp: c.tlp, admittedAt: c.admittedAt, revokedAt: c.revokedAt, sightings: c.sightings }])),
  figures: figuresOfFacts(factsText, w, OFFERED.length),
};
const said = (headline: string, trend = 'Sightings rose.'): Answer => ({ headline, keyThreats: [{ title: 'QakBot C2', citations: [ip.digest] }], trends: [trend], recommendedActions: ['Block it.'] });

test('the facts a model is given carry the figures a summary may state', () => {
  for (const line of ['Report window: 2026-11-30 to 2026-12-07 (UTC).', 'Totals: 42 admitted, 1 revoked, 1234 sightings, 1 rejected.', 'By feed (admitted): abuse 40, spam 2.', 'Time to quorum: median 9 s, 95th percentile 9 s over 3 admissions.', 'Rates: rejection 2.3%, revocation 2.4%.', 'Listed: 2 indicators, 1 sighted and active, 1 revoked.']) {
    assert.ok(factsText.includes(line), `${line}\n${factsText}`);
  }
});

test('grounded numbers: every figure in the text is one of the given figures', () => {
  const cases: Array<[string, Answer, string[]]> = [
    ['the figures as given', said('42 indicators admitted; 1234 sightings of 203.0.113.7', 'abuse supplied 40 of them.'), []],
    ['grouping and trailing zeros', said('1,234 sightings; rejection 2.30%'), []],
    ['an abbreviation a figure rounds to', said('1.2k sightings this week'), []],
    ['an abbreviation at coarser precision', said('about 1k sightings'), []],
    ['a spelled-out count that is given', said('Forty-two admitted; twelve addresses'), []],
    ['dates, years and weeks of the window', said('Week 49 of 2026: from 2026-11-30 to Dec 7, 2026', 'W49 and 2026-W49 saw the peak on 3 December.'), []],
    ['a date the facts name outside the window', said('c2.example was admitted on 2026-11-12'), []],
    ['list positions and the count of listed indicators', said('Top 1 threat of the 2 listed'), []],
    ['the 95th percentile and confidence given', said('95th percentile 9 s; confidence 85'), []],
    ['no figures at all', said('QakBot infrastructure is active'), []],
    ['an invented count', said('1,200 phishing domains admitted'), ['1,200']],
    ['an invented percentage', said('Sightings rose 35% this week'), ['35%']],
    ['a given number stated as a percentage', said('42% of indicators are addresses'), ['42%']],
    ['a percentage that is not as given (rounded)', said('rejection rate 2%'), ['2%']],
    ['a number hidden in a word', said('a 10x rise in QakBot traffic'), ['10']],
    ['a number glued to letters the other way', said('QakBot v7 spreads'), ['7']],
    ['an abbreviation no figure rounds to', said('1.3k sightings'), ['1.3k']],
    ['a magnitude in words', said('millions of sightings', 'a dozen new feeds'), ['millions', 'a dozen']],
    ['fullwidth digits fold to ASCII and are checked', said('９９ new domains'), ['99']],
    ['non-ASCII digits that do not fold', said('٣ new domains'), ['٣']],
    ['a date outside the window', said('first seen on 2026-10-01'), ['2026-10-01']],
    ['a week outside the window', said('since week 12'), ['week 12']],
    ['an invented year', said('the worst since 2019'), ['2019']],
    ['a number inside an offered value is no figure of the text', said('block 203.0.113.7 now'), []],
  ];
  for (const [name, a, want] of cases) {
    const r = checkGrounding(a, facts);
    assert.deepEqual(r.ok ? [] : r.refusals.map((x) => x.subject), want, name);
    if (!r.ok) assert.ok(r.refusals.every((x) => x.reason === 'ungrounded-number'), name);
  }
});

test('figuresIn reads every form; withoutValues leaves no digit of an address, hash or URL', () => {
  const cases: Array<[string, string[]]> = [
    ['1,234 and 12.5% and 3.4k and 2 million', ['number:1234', 'percent:12.5', 'abbreviated:3.4', 'abbreviated:2']],
    ['2026-12-03T10:00:00.000Z, 2026-W49, week 7, Dec 3 2026, 4th March', ['date:2026-12-3', 'week:49', 'week:7', 'date:2026-12-3', 'date:undefined-3-4']],
    ['3rd wave, ten hosts, hundreds', ['number:3', 'number:10', 'vague']],
  ];
  for (const [text, want] of cases) {
    const got = figuresIn(text).map((f) => {
      switch (f.kind) {
        case 'date': return `date:${f.year}-${f.month}-${f.day}`;
        case 'week': return `week:${f.week}`;
        case 'vague': return 'vague';
        default: return `${f.kind}:${f.value}`;
      }
    });
    assert.deepEqual(got, want, text);
  }
  assert.doesNotMatch(withoutValues(`10.0.0.1 ${'ab12'.repeat(16)} http://x.example/a1 host9.example 3f2a9b1c07`), /\d/);
});

const stubSource: SummarySource = {
  candidates: () => Promise.resolve([...OFFERED]),
  facts: (digests) => Promise.resolve(new Map(OFFERED.filter((c) => digests.includes(c.digest)).map((c) => [c.digest, { tlp: c.tlp, admittedAt: c.admittedAt, revokedAt: c.revokedAt, sightings: c.sightings }]))),
  trends: () => Promise.resolve(trends()),
};

function scripted(answers: Answer[]): ChatModel & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    name: 'scripted', allowedTlp: 'green', cacheScope: 'test', requests,
    complete: (req) => {
      requests.push(req);
      const next = answers.shift();
      if (next === undefined) return Promise.reject(new Error('script exhausted'));
      return Promise.resolve({ text: JSON.stringify(next), finishReason: 'stop', promptTokens: 10, completionTokens: 5, latencyMs: 1, format: 'json_object', tries: 1 } satisfies ModelReply);
    },
  };
}

test('summarize: invented figures are refused and regenerated, then the extractive summary (its own figures grounded) replaces them; counted and explained', async () => {
  const cases: Array<{ name: string; answers: Answer[]; generator: 'model' | 'extractive'; outcomes: string[] }> = [
    { name: 'an invented count, then a grounded answer', answers: [said('5,000 new C2 servers'), said('42 admitted, 1234 sightings')], generator: 'model', outcomes: ['refused', 'accepted'] },
    { name: 'invented figures every time', answers: [said('5,000 new C2 servers'), said('up 300%'), said('a 10x rise')], generator: 'extractive', outcomes: ['refused', 'refused', 'refused'] },
  ];
  for (const c of cases) {
    const metrics = new ReportMetrics(new Registry());
    const model = scripted([...c.answers]);
    // A server that ignores the schema's figure pattern: the grounding check alone decides.
    const out = await summarize(stubSource, { window: w, audience: 'green', model, constrainFigures: false }, { metrics });
    assert.equal(out.summary.generator, c.generator, c.name);
    assert.deepEqual(out.attempts.map((a) => a.outcome), c.outcomes, c.name);
    assert.ok(out.attempts.filter((a) => a.outcome === 'refused').every((a) => a.problems.some((p) => p.startsWith('ungrounded-number: '))), c.name);
    const refused = (await metrics.refusals.get()).values.find((v) => v.labels.reason === 'ungrounded-number')?.value;
    assert.equal(refused, c.outcomes.filter((o) => o === 'refused').length, c.name);
    // The next request says why in counts, never echoing the invented figure.
    const retry = model.requests[1]?.messages.at(-1)?.content ?? '';
    assert.match(retry, /1 number\(s\), date\(s\) or percentage\(s\) in the text that are none of the given figures/, c.name);
    assert.doesNotMatch(retry, /5,000/, c.name);
    if (c.generator === 'extractive') assert.match(out.fallbackReason ?? '', /^grounding: 3 answer\(s\) refused; last: ungrounded-number: 10$/, c.name);
  }
});

test('the schema lets free text spell digits only as runs of the facts given, and no raw control character', async () => {
  const runs = digitRuns(factsText);
  assert.ok(runs.includes('1234') && runs.includes('42') && runs.includes('2026'), runs.join(' '));
  assert.ok(!runs.some((r) => ip.digest.includes(r) && r.length > 4), 'no runs from digests');
  const schema = answerSchema(undefined, [ip.digest], runs);
  const cases: Array<[string, Answer, boolean]> = [
    ['given figures (grouping commas would need runs nobody gave)', said('42 admitted, 1234 sightings in 2026-W49'), true],
    ['an invented run', said('9,845.7 new domains'), false],
    ['two given runs glued into a number nobody gave', said('4212 new domains'), false],
    ['a raw newline inside a string', said('two\nlines'), false],
    ['no digits at all', said('QakBot infrastructure is active'), true],
  ];
  for (const [name, a, ok] of cases) assert.equal(parseAnswer(JSON.stringify(a), schema).ok, ok, name);
  // The same answer through the summarizer: refused by ajv as invalid, regenerated, then accepted.
  const model = scripted([said('9,845.7 new domains'), said('42 admitted')]);
  const out = await summarize(stubSource, { window: w, audience: 'green', model });
  assert.deepEqual(out.attempts.map((a) => a.outcome), ['invalid', 'accepted']);
  assert.match(JSON.stringify(model.requests[0]?.schema), /\(1234\|/);
});
