/**
 * The summarizer with an in-memory source and scripted models (unit level: the real model and
 * MongoDB are in e2e/integration/report-*.test.ts): acceptance, regeneration after a refused or
 * invalid answer, fallback on model errors and after too many refusals, the answer cache, and
 * the TLP ceiling of what is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Answer } from './answer.ts';
import { MemoryAnswerCache } from './cache.ts';
import type { Candidate } from './candidates.ts';
import { extractiveSummary } from './extractive.ts';
import { candidate } from './fixtures.ts';
import { checkGrounding } from './grounding.ts';
import { ReportMetrics } from './metrics.ts';
import { ModelError, type ChatModel, type ModelReply } from './model.ts';
import { assertSendable, buildMessages, TlpViolation, type ModelRequest } from './prompt.ts';
import { summarize, type SummarySource } from './summarize.ts';
import type { Tlp } from './tlp.ts';
import { assembleTrends } from './trends.ts';

const w = { since: new Date('2026-11-01T00:00:00Z'), until: new Date('2026-11-29T00:00:00Z') };
const green = candidate({ type: 'ipv4', value: '203.0.113.7', sightings: 9, tlp: 'green', confidence: 90 });
const clear = candidate({ value: 'c2.example', sightings: 2 });
const amber = candidate({ value: 'secret.example', tlp: 'amber', sightings: 500 });
const ALL = [green, clear, amber];
const rank: Record<Tlp, number> = { clear: 0, green: 1, amber: 2, 'amber+strict': 3, red: 4 };

function source(all: readonly Candidate[] = ALL): SummarySource {
  return {
    candidates: (_w, ceiling) => Promise.resolve(all.filter((c) => rank[c.tlp] <= rank[ceiling])),
    facts: (digests) => Promise.resolve(new Map(all.filter((c) => digests.includes(c.digest)).map((c) => [c.digest, { tlp: c.tlp, admittedAt: c.admittedAt, sightings: c.sightings }]))),
    trends: (win, ceiling) => Promise.resolve(assembleTrends(win, ceiling, { byType: {}, byFeed: {}, byPartner: {}, weeks: [], timeToQuorumMs: [], labels: {}, heatmap: [], feeds: [], undated: 0 }, undefined)),
  };
}

type Script = Array<Answer | string | ModelError>;

function scripted(script: Script, allowedTlp: Tlp = 'green'): ChatModel & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    name: 'scripted', allowedTlp, cacheScope: 'test', requests,
    complete: (req) => {
      requests.push(req);
      const next = script.shift();
      if (next === undefined) throw new Error('script exhausted');
      if (next instanceof ModelError) return Promise.reject(next);
      const text = typeof next === 'string' ? next : JSON.stringify(next);
      return Promise.resolve({ text, finishReason: 'stop', promptTokens: 100, completionTokens: 50, latencyMs: 5, format: 'json_object', tries: 1 } satisfies ModelReply);
    },
  };
}

const cites = (...digests: string[]): Answer => ({ headline: 'Active C2 traffic', keyThreats: [{ title: 'C2 server', citations: digests }], trends: ['rising'], recommendedActions: ['block it'] });

test('summarize: model answers, refusals, errors and fallbacks', async () => {
  const cases: Array<{ name: string; script: Script; constrain?: boolean; want: { generator: 'model' | 'extractive'; outcomes: string[]; reason?: RegExp } }> = [
    { name: 'accepted at once', script: [cites(green.digest)], want: { generator: 'model', outcomes: ['accepted'] } },
    { name: 'invented citation refused, then a grounded one', script: [cites('https://invented.example/'), cites(clear.digest)], constrain: false, want: { generator: 'model', outcomes: ['refused', 'accepted'] } },
    { name: 'every answer refused: fallback', script: [cites('x'), cites('y'), cites('z')], constrain: false, want: { generator: 'extractive', outcomes: ['refused', 'refused', 'refused'], reason: /^grounding: 3 answer\(s\) refused; last: unknown-digest: z/ } },
    { name: 'malformed JSON, then valid', script: ['{"headline":', cites(green.digest)], want: { generator: 'model', outcomes: ['invalid', 'accepted'] } },
    { name: 'endpoint fails for good: fallback at once', script: [new ModelError('rate-limited', 'the model endpoint answered 429 (try 3 of 3)', 429)], want: { generator: 'extractive', outcomes: ['error'], reason: /^model-error: .*429/ } },
    { name: 'the amber indicator cited by a green endpoint is refused', script: [cites(amber.digest), cites(green.digest)], constrain: false, want: { generator: 'model', outcomes: ['refused', 'accepted'] } },
  ];
  for (const c of cases) {
    const model = scripted([...c.script]);
    const out = await summarize(source(), { window: w, audience: 'amber', model, constrainCitations: c.constrain });
    assert.equal(out.summary.generator, c.want.generator, c.name);
    assert.deepEqual(out.attempts.map((a) => a.outcome), c.want.outcomes, c.name);
    if (c.want.reason) assert.match(out.fallbackReason ?? '', c.want.reason, c.name);
    else assert.equal(out.fallbackReason, undefined, c.name);
    assert.ok(checkGrounding(out.summary, { window: w, ceiling: 'amber', offered: new Map(out.offered.map((x) => [x.digest, x])), stored: new Map(ALL.map((x) => [x.digest, x])) }).ok, `${c.name}: the result is grounded`);
    for (const req of model.requests) assert.doesNotMatch(JSON.stringify(req), /secret\.example|amber/i, `${c.name}: nothing amber is sent to a green endpoint`);
  }
});

test('a refused answer is regenerated with the reasons in the prompt', async () => {
  const model = scripted([cites('https://invented.example/'), cites(green.digest)]);
  await summarize(source(), { window: w, audience: 'green', model, constrainCitations: false });
  assert.equal(model.requests.length, 2);
  assert.doesNotMatch(JSON.stringify(model.requests[1]), /invented/, 'the refused text is not echoed');
  assert.match(model.requests[1]?.messages.at(-1)?.content ?? '', /previous answer was refused \(1 citation\(s\) that are not digests of the listed indicators\)/);
});

test('constrained citations: the schema enumerates exactly the offered digests', async () => {
  const model = scripted([cites(green.digest)]);
  const out = await summarize(source(), { window: w, audience: 'amber', model });
  const items = (model.requests[0]?.schema as { properties: { keyThreats: { items: { properties: { citations: { items: { enum: string[] } } } } } } }).properties.keyThreats.items.properties.citations.items;
  assert.deepEqual([...items.enum].sort(), out.offered.map((c) => c.digest).sort());
  assert.ok(!items.enum.includes(amber.digest));
});

test('no model: the extractive summary of the audience\'s TLP, amber included for an amber audience', async () => {
  const out = await summarize(source(), { window: w, audience: 'amber' });
  assert.equal(out.summary.generator, 'extractive');
  assert.equal(out.summary.citations[0], amber.digest);
  const greenOut = await summarize(source(), { window: w, audience: 'green' });
  assert.ok(!greenOut.summary.citations.includes(amber.digest));
  assert.doesNotMatch(JSON.stringify(greenOut), /secret\.example/);
});

test('accepted answers are cached by input hash; refused ones are not', async () => {
  const cache = new MemoryAnswerCache();
  const metrics = new ReportMetrics(new Registry());
  const first = scripted([cites(green.digest)]);
  await summarize(source(), { window: w, audience: 'green', model: first }, { cache, metrics });
  const second = scripted([]);
  const out = await summarize(source(), { window: w, audience: 'green', model: second }, { cache, metrics });
  assert.equal(second.requests.length, 0);
  assert.equal(out.summary.generator, 'model');
  assert.equal(out.attempts[0]?.cached, true);
  const refusedCache = new MemoryAnswerCache();
  await summarize(source(), { window: w, audience: 'green', model: scripted([cites('x'), cites('y'), cites('z')]), constrainCitations: false }, { cache: refusedCache });
  const again = scripted([cites(green.digest)]);
  await summarize(source(), { window: w, audience: 'green', model: again, constrainCitations: false }, { cache: refusedCache });
  assert.equal(again.requests.length, 1);
  assert.match((await metrics.cache.get()).values.map((v) => `${v.labels.result}=${v.value}`).join(','), /miss=1.*hit=1|hit=1.*miss=1/);
});

test('assertSendable refuses a request carrying an indicator above the ceiling or a stray digest', () => {
  const req = (cands: Candidate[]): ModelRequest => ({ messages: buildMessages(cands, w, undefined), schema: {}, maxTokens: 10, temperature: 0 });
  assert.throws(() => assertSendable(req([green, amber]), [green, amber], 'green'), TlpViolation);
  assert.throws(() => assertSendable(req([green, amber]), [green], 'green'), /not an offered candidate/);
  assert.doesNotThrow(() => assertSendable(req([green, clear]), [green, clear], 'green'));
});

test('the extractive summary quotes only what it was given and fits the limits', () => {
  const long = candidate({ type: 'url', value: `https://x.example/${'p'.repeat(300)}`, sightings: 1 });
  const a = extractiveSummary([long, green], w);
  assert.doesNotMatch(a.keyThreats[0]?.title ?? '', /https:/, 'a URL that does not fit is left out, not cut');
  assert.match(a.keyThreats[1]?.title ?? '', /ipv4 203\.0\.113\.7 \(9 sightings; confidence 90\)/);
  assert.ok(checkGrounding(a, { window: w, ceiling: 'green', offered: new Map([long, green].map((c) => [c.digest, c])), stored: new Map([long, green].map((c) => [c.digest, c])) }).ok);
  assert.match(extractiveSummary([], w).headline, /No indicator/);
});
