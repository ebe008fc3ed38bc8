/**
 * Reports: the trends of a 30-day window and an extractive summary over a FerretDB holding
 * 10,000 replicated indicators (30 days, 4 feeds, 3 proposers, a tenth revoked) and 20,000
 * hourly sightings buckets; then the real test model (SmolLM2-135M behind llama-cpp-python's
 * server): a 16-token answer and a full grounded summary with 5 offered indicators.
 * Targets: trends of 10,000 admissions < 10 s on FerretDB; a model summary < 60 s on 2 cores.
 * Trends run three times; the best and median wall times and FerretDB's CPU time per run are
 * reported (the machine is shared: FerretDB's CPU does not move with the load). The extractive
 * summary (with a model endpoint cleared for less than the audience, which never answers, so the
 * trends are needed at two ceilings) runs from one read of the window and from separate reads.
 * THREATMESH_BENCH_MODEL=off leaves the model part out. Numbers in docs/reports.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase } from '../operator/src/dev/controlplane/instance.ts';
import { recordOf, sightingOf } from '../operator/src/report/fixtures.ts';
import { ModelError, OpenAiChatModel, type ChatModel } from '../operator/src/report/model.ts';
import { SIGHTINGS, type SightingDoc } from '../operator/src/report/mongo.ts';
import { windowEnding } from '../operator/src/report/period.ts';
import { PartnerData } from '../operator/src/report/source.ts';
import { summarize, type SummarySource } from '../operator/src/report/summarize.ts';
import { INDICATORS, type IndicatorRecord } from '../operator/src/store/indicators.ts';
import { startLlm } from '../e2e/harness/llm.ts';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { processCpuMs } from './procfs.ts';

/** What `npm run bench -- report --help` prints. */
const USAGE: BenchUsage = {
  name: 'report',
  measures: 'Reports: the trends of a 30-day window and an extractive summary over a FerretDB with 10,000 replicated indicators and 20,000 hourly sightings buckets (best and median of three, FerretDB CPU per run), then the real test model (SmolLM2-135M behind llama-cpp-python): a 16-token answer and a grounded summary. Targets: trends < 10 s; a model summary < 60 s on 2 cores.',
  knobs: [
    ['THREATMESH_BENCH_MODEL=off', 'leave the model part out'],
    ['THREATMESH_CACHE', 'binaries and the model (default ~/.cache/threatmesh)'],
  ],
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

const RECORDS = 10_000;
const SIGHTING_BUCKETS = 20_000;
const DAY = 86_400_000;
const cacheDir = process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh');
const FEEDS = ['tm/feodo', 'tm/urlhaus', 'tm/openphish', 'tm/misp'];

async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const v = await fn();
  return [v, performance.now() - start];
}

const results: BenchResult[] = [];
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-report-'));
const binaries = await ensureBinaries({ cacheDir, progress: process.stderr });
const dbProc = await startDatabase({ name: 'bench', dir, ferretdb: binaries.ferretdb });
const mongo = await MongoClient.connect(dbProc.uri);
try {
  const db = mongo.db('bench_report');
  const now = Date.now();
  const records = Array.from({ length: RECORDS }, (_, i) => recordOf({
    value: `host-${i}.bench.example`, logIndex: i, proposerId: `partner-${i % 3}`, opensAt: new Date(now - ((i * 7919) % (30 * DAY))),
    approvalsAfterMs: [1000 + (i % 50) * 100, 2000 + (i % 97) * 100], revokedAt: i % 10 === 0 ? new Date(now - DAY) : undefined,
    meta: { tlp: i % 20 === 0 ? 'amber' : 'green', confidence: 50 + (i % 50), labels: [i % 2 === 0 ? 'botnet-c2' : 'phishing', `malware:fam${i % 7}`], source: FEEDS[i % FEEDS.length]! },
  }));
  progress(`inserting ${RECORDS} records and ${SIGHTING_BUCKETS} sightings buckets`);
  for (let i = 0; i < records.length; i += 1000) await db.collection<IndicatorRecord>(INDICATORS).insertMany(records.slice(i, i + 1000));
  const buckets = Array.from({ length: SIGHTING_BUCKETS }, (_, i) => sightingOf(records[(i * 31) % (RECORDS / 2)]!, `partner-${i % 3}`, new Date(now - (i % (29 * 24)) * 3_600_000), 1 + (i % 9)));
  const unique = [...new Map(buckets.map((b) => [b._id, b])).values()];
  for (let i = 0; i < unique.length; i += 1000) await db.collection<SightingDoc>(SIGHTINGS).insertMany(unique.slice(i, i + 1000));
  const data = new PartnerData(db);
  const w = windowEnding(new Date(), 30 * DAY);
  // Three runs: the machine is shared, so the best run and FerretDB's own CPU time are the figures that do not move with the load.
  const runs: Array<{ wall: number; dbCpu: number }> = [];
  for (let i = 0; i < 3; i++) {
    const cpu0 = processCpuMs(dbProc.pid);
    const [t, trendsMs] = await timedAsync(() => data.trends(w, 'green'));
    runs.push({ wall: trendsMs, dbCpu: processCpuMs(dbProc.pid) - cpu0 });
    progress(`trends: ${round(trendsMs)} ms (FerretDB CPU ${runs.at(-1)?.dbCpu} ms), admitted ${t.totals.admitted}, sightings ${t.totals.sightings}`);
  }
  const walls = runs.map((r) => r.wall).sort((a, b) => a - b);
  results.push(
    { metric: 'trends of 30 days, 10,000 records, 20,000 buckets (green), best of 3', value: round(walls[0] ?? 0), unit: 'ms' },
    { metric: 'trends, median of 3', value: round(walls[1] ?? 0), unit: 'ms' },
    { metric: 'trends, FerretDB CPU per run (user+sys, median)', value: runs.map((r) => r.dbCpu).sort((a, b) => a - b)[1] ?? 0, unit: 'ms' },
  );
  // A summary reads its candidates and the trends at two ceilings: from one read of the window (PartnerData.overview), and from separate reads as before.
  const separate: SummarySource = { candidates: (x, c) => data.candidates(x, c), facts: (d, x) => data.facts(d, x), trends: (x, c) => data.trends(x, c) };
  const model: ChatModel = { name: 'unused', allowedTlp: 'clear', cacheScope: 'bench', complete: () => Promise.reject(new ModelError('connection', 'the bench measures the reads; this endpoint never answers')) };
  for (const [how, src] of [['one read', data], ['separate reads', separate]] as const) {
    const cpu0 = processCpuMs(dbProc.pid);
    const [out, ms] = await timedAsync(() => summarize(src, { window: windowEnding(new Date(), 7 * DAY), audience: 'green', model, regenerations: 0 }));
    const dbCpu = processCpuMs(dbProc.pid) - cpu0;
    progress(`extractive summary (${how}): ${round(ms)} ms, FerretDB CPU ${dbCpu} ms, ${out.offered.length} offered, fallback ${out.fallbackReason ?? 'none'}`);
    results.push({ metric: `extractive summary of 7 days, model ceiling below the audience (${how})`, value: round(ms), unit: 'ms' }, { metric: `  FerretDB CPU (${how})`, value: dbCpu, unit: 'ms' });
  }

  if (process.env['THREATMESH_BENCH_MODEL'] === 'off') {
    progress('THREATMESH_BENCH_MODEL=off: the model part is left out');
  } else {
    await benchModel(data);
  }
} finally {
  await mongo.close();
  await dbProc.stop();
  await rm(dir, { recursive: true, force: true });
}
emit(results);

/** The real test model: a 16-token answer, then a grounded summary of 5 offered indicators. */
async function benchModel(data: PartnerData): Promise<void> {
  const llm = await startLlm({ cacheDir });
  try {
    const model = new OpenAiChatModel({ baseUrl: llm.baseUrl, model: llm.model, allowedTlp: 'green', timeoutMs: 300_000, responseFormat: 'json_object' });
    const schema = { type: 'object', additionalProperties: false, required: ['word'], properties: { word: { type: 'string', maxLength: 40 } } };
    await model.complete({ messages: [{ role: 'user', content: 'warm up' }], schema, maxTokens: 4, temperature: 0 });
    const small = await model.complete({ messages: [{ role: 'user', content: 'Name one colour in JSON.' }], schema, maxTokens: 16, temperature: 0 });
    results.push({ metric: 'model: 16-token answer', value: round(small.latencyMs), unit: 'ms' }, { metric: 'model: 16-token answer, completion tokens', value: small.completionTokens, unit: 'tokens' });
    const [out, summaryMs] = await timedAsync(() => summarize(data, { window: windowEnding(new Date(), 7 * DAY), audience: 'green', model, maxItems: 5, maxTokens: 320 }));
    const acc = out.attempts.reduce((a, x) => ({ p: a.p + x.promptTokens, c: a.c + x.completionTokens }), { p: 0, c: 0 });
    progress(`model summary: ${out.summary.generator}, ${out.attempts.length} attempt(s) ${JSON.stringify(out.attempts.map((a) => a.outcome))}, ${round(summaryMs)} ms`);
    results.push(
      { metric: 'model summary (5 indicators, max 320 tokens), wall', value: round(summaryMs), unit: 'ms' },
      { metric: 'model summary: attempts', value: out.attempts.length, unit: 'answers' },
      { metric: 'model summary: prompt tokens', value: acc.p, unit: 'tokens' },
      { metric: 'model summary: completion tokens', value: acc.c, unit: 'tokens' },
      { metric: 'model summary: completion tokens per second', value: round(acc.c / Math.max(1e-3, out.attempts.reduce((a, x) => a + x.latencyMs, 0) / 1000)), unit: 'tokens/s' },
    );
  } finally {
    await llm.stop();
  }
}
