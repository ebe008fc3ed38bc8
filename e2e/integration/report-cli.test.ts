/**
 * `threatmesh report trends|summary` as child processes against a real FerretDB holding
 * replicated indicator records and sightings in exactly the shapes the partner's store and
 * match/ write, and rejections written by the replica's own sink from REJECT entries: the trends'
 * JSON shape and figures (rejection rates per feed and per proposer from the replicated
 * rejections), TLP filtering of every figure, the extractive summary's grounding, and clear errors
 * for bad input.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { signProposal, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { SIGHTINGS, type SightingDoc } from '../../operator/src/report/mongo.ts';
import { recordOf, sightingOf } from '../../operator/src/report/fixtures.ts';
import { isoWeek, windowEnding } from '../../operator/src/report/period.ts';
import { PartnerData } from '../../operator/src/report/source.ts';
import type { Tlp } from '../../operator/src/report/tlp.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const DAY = 86_400_000;
const now = Date.now();
const ago = (days: number): Date => new Date(now - days * DAY);

const c2 = recordOf({ type: 'ipv4', value: '203.0.113.7', logIndex: 1, opensAt: ago(2), approvalsAfterMs: [1000, 3000], proposerId: 'partner-a', meta: { tlp: 'green', confidence: 90, labels: ['botnet-c2', 'malware:emotet'], source: 'threatmesh/feodo' } });
const phish = recordOf({ type: 'domain', value: 'login-bank.example', logIndex: 2, opensAt: ago(9), approvalsAfterMs: [5000, 9000], proposerId: 'partner-b', meta: { tlp: 'clear', confidence: 70, labels: ['phishing'], source: 'threatmesh/openphish' } });
const revoked = recordOf({ type: 'domain', value: 'benign-cdn.example', logIndex: 3, opensAt: ago(8), proposerId: 'partner-a', revokedAt: ago(1), meta: { source: 'threatmesh/openphish' } });
const secret = recordOf({ type: 'domain', value: 'amber-only.example', logIndex: 4, opensAt: ago(3), proposerId: 'partner-c', meta: { tlp: 'amber', labels: ['apt'], source: 'threatmesh/private' } });
const old = recordOf({ type: 'domain', value: 'old.example', logIndex: 0, opensAt: ago(45), meta: { source: 'threatmesh/feodo' } });
const oldAmber = recordOf({ type: 'domain', value: 'old-amber.example', logIndex: 5, opensAt: ago(60), meta: { tlp: 'amber', source: 'threatmesh/private' } });
const { window: _unused, ...undated } = recordOf({ type: 'domain', value: 'undated.example', logIndex: 6, opensAt: ago(2), meta: { source: 'threatmesh/legacy' } });
const records: IndicatorRecord[] = [c2, phish, revoked, secret, old, oldAmber, undated];
const sightings: SightingDoc[] = [
  sightingOf(c2, 'partner-a', ago(1), 12), sightingOf(c2, 'partner-a', new Date(now - DAY - 3_600_000), 5),
  sightingOf(phish, 'partner-a', ago(5), 2), sightingOf(secret, 'partner-a', ago(2), 100), sightingOf(old, 'partner-a', ago(40), 7), sightingOf(oldAmber, 'partner-b', ago(3), 1000),
];

const key = SigningKey.generate();
/** A REJECT entry as the replica applies it (verified upstream): two reject votes signed `decided` days ago. */
function rejectEntry(index: number, value: string, proposerId: string, meta: IndicatorMeta, decided: number): VerifiedEntry {
  const indicator = { type: 'domain' as const, value };
  const digest = indicatorDigest(indicator);
  const opensAt = ago(decided + 1).toISOString();
  const votes = ['partner-x', 'partner-y'].map((partnerId) => signVote(key, { partnerId, digest, decision: 'reject', signedAt: ago(decided).toISOString() }));
  return { index, kind: 'reject', digest, indicator, meta, proposerId, proposalSignature: signProposal(key, 'add', indicator, meta), window: { opensAt, closesAt: new Date(Date.parse(opensAt) + 3 * DAY).toISOString() }, votes };
}
const rejections: VerifiedEntry[] = [
  rejectEntry(7, 'typo-squat.example', 'partner-b', { tlp: 'clear', source: 'threatmesh/openphish' }, 3),
  rejectEntry(8, 'amber-rejected.example', 'partner-c', { tlp: 'amber', source: 'threatmesh/private' }, 4),
  rejectEntry(9, 'long-ago.example', 'partner-a', { source: 'threatmesh/feodo' }, 40),
];

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let dbName: string;

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli(['report', ...args, '--mongodb-uri', cp.mongoUri, '--database', dbName], { timeout: 120_000 });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  dbName = `tm_report_${uniqueSuffix()}`;
  db = mongo.db(dbName);
  await db.collection<IndicatorRecord>(INDICATORS).insertMany(records);
  await db.collection<SightingDoc>(SIGHTINGS).insertMany(sightings);
  await (await MongoIndicatorSink.open(db)).applyMany(rejections);
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

interface TrendsJson {
  since: string; until: string; maxTlp: string;
  byType: Record<string, number>; byFeed: Record<string, number>; byPartner: Record<string, number>;
  byWeek: Array<{ week: string; admitted: number; rejected: number | null; revoked: number; sightings: number }>;
  timeToQuorum: { count: number; p50Ms: number | null; p95Ms: number | null };
  totals: { admitted: number; revoked: number; sightings: number; rejected: number | null; undated: number };
  topLabels: Array<{ label: string; count: number }>; topMalware: Array<{ family: string; count: number }>;
  sightingsHeatmap: Array<{ partner: string; week: string; count: number }>;
  feedQuality: Array<{ feed: string; proposed: number; revoked: number; neverSighted: number }>;
  proposerQuality: Array<{ proposer: string; proposed: number; admitted: number; rejected: number | null; rejectedShare: number | null }>;
  rates: { rejection: number | null; revocation: number | null };
  rejections: { coverage: string };
}

test('trends --json: the shape the issue names, and figures that leave out what is above the TLP', async () => {
  const r = await cli(['trends', '--since', '30d', '--json', '--max-tlp', 'green']);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout) as TrendsJson;
  for (const k of ['since', 'until', 'byType', 'byFeed', 'byPartner', 'byWeek', 'timeToQuorum']) assert.ok(k in t, k);
  assert.deepEqual(Object.keys(t.byWeek[0] ?? {}), ['week', 'admitted', 'rejected', 'revoked', 'sightings']);
  assert.deepEqual(t.byType, { ipv4: 1, domain: 2 });
  assert.deepEqual(t.byFeed, { 'threatmesh/feodo': 1, 'threatmesh/openphish': 2 });
  assert.deepEqual(t.byPartner, { 'partner-a': 2, 'partner-b': 1 });
  assert.equal(t.totals.admitted, 3);
  assert.equal(t.totals.revoked, 1);
  assert.equal(t.totals.sightings, 19, 'the sightings of amber indicators (admitted in the window or before it) and the sightings before the window are left out');
  assert.equal(t.totals.rejected, 1, 'the replicated rejection of the window at or below GREEN (the AMBER one and the one before the window are left out)');
  assert.equal(t.byWeek.reduce((a, w) => a + (w.rejected ?? 0), 0), 1);
  assert.equal(t.rates.rejection, 0.25);
  assert.equal(t.totals.undated, 1, 'a record stored without a voting window is counted as undated, nowhere else');
  assert.equal(t.rejections.coverage, 'network');
  assert.deepEqual(t.proposerQuality, [
    { proposer: 'partner-a', proposed: 2, admitted: 2, rejected: 0, rejectedShare: 0 },
    { proposer: 'partner-b', proposed: 2, admitted: 1, rejected: 1, rejectedShare: 0.5 },
  ]);
  assert.deepEqual(t.timeToQuorum, { count: 3, p50Ms: 3000, p95Ms: 9000, maxMs: 9000 });
  const perWeek = new Map<string, number>();
  for (const rec of [c2, phish, revoked]) perWeek.set(isoWeek(new Date(rec.window?.opensAt ?? '')), (perWeek.get(isoWeek(new Date(rec.window?.opensAt ?? ''))) ?? 0) + 1);
  for (const w of t.byWeek) assert.equal(w.admitted, perWeek.get(w.week) ?? 0, w.week);
  assert.ok(t.topMalware.some((m) => m.family === 'emotet'));
  assert.ok(!t.topLabels.some((l) => l.label === 'apt'), 'labels of amber indicators are left out');
  assert.deepEqual(t.feedQuality.find((f) => f.feed === 'threatmesh/openphish'), { feed: 'threatmesh/openphish', proposed: 3, rejected: 1, revoked: 1, neverSighted: 1, rejectedShare: 0.3333, revokedShare: 0.3333, neverSightedShare: 0.3333 });
  assert.equal(t.sightingsHeatmap.reduce((a, h) => a + h.count, 0), 19);
  assert.doesNotMatch(r.stdout, /amber-only|old-amber|threatmesh\/private|partner-c/);
  assert.ok(!t.sightingsHeatmap.some((h) => h.partner === 'partner-b'), 'partner-b only sighted an amber indicator');
});

test('trends with --max-tlp amber counts the amber indicator; the text form is a table', async () => {
  const r = await cli(['trends', '--since', '30d', '--json', '--max-tlp', 'amber']);
  const t = JSON.parse(r.stdout) as TrendsJson;
  assert.equal(t.totals.admitted, 4);
  assert.equal(t.totals.sightings, 1119);
  assert.equal(t.byPartner['partner-c'], 1);
  assert.equal(t.totals.rejected, 2, 'the AMBER rejection counts at AMBER');
  assert.deepEqual(t.proposerQuality.find((p) => p.proposer === 'partner-c'), { proposer: 'partner-c', proposed: 2, admitted: 1, rejected: 1, rejectedShare: 0.5 });
  const text = await cli(['trends', '--since', '30d']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /WEEK +ADMITTED +REJECTED +REVOKED +SIGHTINGS/);
  assert.match(text.stdout, /admitted 4, revoked 1 \(25\.0%\), rejected 2 \(33\.3%\)/);
  assert.match(text.stdout, /PROPOSER +PROPOSED +ADMITTED +REJECTED\npartner-a +2 +2 +0 \(0\.0%\)\npartner-b +2 +1 +1 \(50\.0%\)\npartner-c +2 +1 +1 \(50\.0%\)/);
  assert.match(text.stdout, /note: rejections are the REJECT entries of the replicated log/);
});

test('summary --json without a model: extractive, every citation a digest of the window at or below the TLP', async () => {
  const r = await cli(['summary', '--since', '7d', '--max-tlp', 'green', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { generator: string; headline: string; citations: string[]; keyThreats: Array<{ title: string; citations: string[] }>; fallbackReason: string | null };
  assert.equal(s.generator, 'extractive');
  assert.equal(s.fallbackReason, null);
  assert.equal(s.citations[0], c2.digest, 'the most sighted indicator comes first');
  assert.ok(s.citations.every((d) => [c2.digest, phish.digest, revoked.digest].includes(d)), s.citations.join(','));
  assert.doesNotMatch(r.stdout, /amber-only|old\.example/);
  const md = await cli(['summary', '--since', '7d']);
  assert.match(md.stdout, /^\*\*TLP:GREEN\*\*/);
  assert.match(md.stdout, /## Cited indicators/);
});

test('bad input: a clear error that says what to do', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['trends', '--since', '30'], /"30" is not a duration: use whole numbers with units w, d, h, m/],
    [['trends', '--max-tlp', 'white'], /--max-tlp "white" is not a TLP 2\.0 marking; use one of clear, green, amber, amber\+strict, red/],
    [['summary', '--model-url', 'http://127.0.0.1:9/v1'], /give both --model-url URL and --model NAME/],
    [['summary', '--model-url', 'ftp://x', '--model', 'm'], /--model-url "ftp:\/\/x" must be an http\(s\) URL/],
    [['summary', '--max-tokens', '0'], /--max-tokens "0" must be a positive whole number/],
    [['summary', '--max-tokens', '100'], /--max-tokens 100 is too small for a whole answer; give at least 256/],
  ];
  // Command-line mistakes: exit 2 and the --help hint (docs/cli.md).
  for (const [args, want] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
    assert.match(r.stderr, /--help' for every flag/, args.join(' '));
  }
  const noDb = await runCli(['report', 'trends'], { timeout: 60_000, env: { ...process.env, MONGODB_URI: '' } });
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /--mongodb-uri URI or MONGODB_URI/);
});

test('one read of the window (what summaries use) gives the candidates, the trends and the grounding facts of separate reads, at every ceiling', async () => {
  const data = new PartnerData(db);
  // 7 days: phishing admitted before the window but sighted in it comes in by _id; 90 days: the undated and old records.
  const windows = [7, 30, 90].map((days) => windowEnding(new Date(now + 60_000), days * DAY));
  const asks: ReadonlyArray<[Tlp, Tlp[]]> = [['clear', ['clear']], ['green', ['green', 'clear']], ['amber', ['amber', 'green']], ['red', ['red', 'clear']]];
  for (const w of windows) {
    for (const [audience, ceilings] of asks) {
      const label = `${audience} ${JSON.stringify(ceilings)} since ${w.since.toISOString()}`;
      const one = await data.overview(w, audience, ceilings);
      assert.deepEqual(one.candidates, await data.candidates(w, audience), label);
      assert.deepEqual(one.trends, await Promise.all(ceilings.map((c) => data.trends(w, c))), label);
      const digests = [...records.map((r) => r.digest), 'f'.repeat(64)];
      assert.deepEqual(await one.facts(digests), await data.facts(digests, w), label);
    }
  }
  const week = await data.overview(windows[0]!, 'green', ['green']);
  assert.ok(week.candidates.some((c) => c.value === 'login-bank.example' && c.sightings === 2), 'the sighted older record is a candidate');
  assert.ok(!week.candidates.some((c) => c.tlp === 'amber'));
});
