/**
 * Journey: history and executive summaries on one partner, with real parts: a kube-apiserver
 * with the CRDs, FerretDB as the partner's MongoDB, and a real small model
 * (SmolLM2-135M-Instruct behind llama-cpp-python's server) reached through a recording proxy.
 *
 * Admissions and a revocation are written through the partner's own replica sink
 * (MongoIndicatorSink, as the verified log would: signed proposals and quorum certificates),
 * sightings in match/'s contract shape, and a rejected proposal as a REJECT entry (its reject
 * votes as proof) through the same sink. The operator's ThreatReport controller (the same Runnable `threatmesh operator
 * --exchange` adds) then writes a report with the model: generator "model", every citation
 * resolves, nothing AMBER reaches the GREEN endpoint, the ConfigMap, MongoDB, the HTTP routes and
 * the gauges carry it. A second ThreatReport without the citation enum shows the model's invented
 * citations refused by the grounding check, then a regeneration or the extractive fallback.
 * (The four-cluster network is not started: the replicated records are written directly.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, type Db } from 'mongodb';
import { API_VERSION, THREAT_REPORTS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatReport, ThreatReportSpec } from '../../operator/src/api/types.ts';
import { reportsRunnable } from '../../operator/src/cli/report.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signProposal, voteSubject, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { CONFIGMAPS } from '../../operator/src/feeds/allowlists.ts';
import { createLogger } from '../../operator/src/log.ts';
import { reportRoutes } from '../../operator/src/report/http.ts';
import { SIGHTINGS, type SightingDoc } from '../../operator/src/report/mongo.ts';
import type { ReportDocument } from '../../operator/src/report/render.ts';
import { REPORTS } from '../../operator/src/report/reportstore.ts';
import { PartnerData } from '../../operator/src/report/source.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import type { Runnable } from '../../operator/src/runtime/manager.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { INDICATORS, MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { startLlm, type LlmServer } from '../harness/llm.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { startRecorder, type Recorder } from '../harness/recorder.ts';
import { REPORTS_ROW } from '../../cdk8s/lib/alerts.ts';
import { missingSelectors, parseExposition, shippedSelectors } from '../harness/metrics.ts';

const DAY = 86_400_000;
const NS = `tm-report-${uniqueSuffix()}`;
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const quiet = createLogger(process.stderr, 'warn', { component: 'journey-report' });
const proposer = SigningKey.generate();
const voters = ['partner-a', 'partner-b', 'partner-c'].map((id) => ({ id, key: SigningKey.generate() }));

interface Admission { readonly indicator: Indicator; readonly meta: IndicatorMeta; readonly daysAgo: number }
const admissions: Admission[] = [
  { indicator: { type: 'ipv4', value: '203.0.113.7' }, meta: { tlp: 'green', confidence: 90, labels: ['botnet-c2', 'malware:emotet'], source: 'threatmesh/feodo' }, daysAgo: 2 },
  { indicator: { type: 'domain', value: 'login-bank.example' }, meta: { tlp: 'clear', confidence: 70, labels: ['phishing'], source: 'threatmesh/openphish' }, daysAgo: 3 },
  { indicator: { type: 'url', value: 'http://dl.badcdn.example/payload.exe' }, meta: { tlp: 'green', confidence: 80, labels: ['malware-download'], source: 'threatmesh/urlhaus' }, daysAgo: 4 },
  { indicator: { type: 'domain', value: 'benign-cdn.example' }, meta: { tlp: 'clear', confidence: 40, source: 'threatmesh/openphish' }, daysAgo: 5 },
  { indicator: { type: 'domain', value: 'amber-secret.example' }, meta: { tlp: 'amber', confidence: 100, labels: ['apt'], source: 'threatmesh/private' }, daysAgo: 1 },
];
const digestOf = (a: Admission): string => indicatorDigest(a.indicator);

/** An ADD entry as the verified log carries it: the proposer's signature and three approvals. */
function addEntry(a: Admission, index: number, now: number): VerifiedEntry {
  const opensAt = now - a.daysAgo * DAY;
  const digest = digestOf(a);
  const votes = voters.map((v, i) => signVote(v.key, { partnerId: v.id, digest: voteSubject('add', digest), decision: 'approve', signedAt: new Date(opensAt + 60_000 + (i + 1) * 4000).toISOString() }));
  return { kind: 'add', index, digest, indicator: a.indicator, meta: a.meta, proposerId: 'partner-a', proposalSignature: signProposal(proposer, 'add', a.indicator, a.meta), window: { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + DAY).toISOString() }, votes };
}

function revokeEntry(a: Admission, index: number, at: number): VerifiedEntry {
  const digest = digestOf(a);
  const votes = voters.map((v) => signVote(v.key, { partnerId: v.id, digest: voteSubject('revoke', digest), decision: 'approve', signedAt: new Date(at + 70_000).toISOString() }));
  return { kind: 'revoke', index, digest, indicator: a.indicator, proposerId: 'partner-b', proposalSignature: signProposal(proposer, 'revoke', a.indicator), window: { opensAt: new Date(at).toISOString(), closesAt: new Date(at + DAY).toISOString() }, votes };
}

function rejectEntry(indicator: Indicator, meta: IndicatorMeta, index: number, at: number): VerifiedEntry {
  const digest = indicatorDigest(indicator);
  const votes = voters.map((v) => signVote(v.key, { partnerId: v.id, digest: voteSubject('add', digest), decision: 'reject', signedAt: new Date(at + 70_000).toISOString() }));
  return { kind: 'reject', index, digest, indicator, meta, proposerId: 'partner-a', proposalSignature: signProposal(proposer, 'add', indicator, meta), window: { opensAt: new Date(at).toISOString(), closesAt: new Date(at + DAY).toISOString() }, votes };
}

function sighting(a: Admission, hoursAgo: number, count: number, now: number): SightingDoc {
  const bucketStart = new Date(Math.floor((now - hoursAgo * 3_600_000) / 3_600_000) * 3_600_000);
  return { _id: `${digestOf(a)}:${bucketStart.toISOString()}`, digest: digestOf(a), type: a.indicator.type, value: a.indicator.value, partnerId: 'partner-a', bucketStart, count, firstSeen: bucketStart, lastSeen: new Date(bucketStart.getTime() + 60_000), sources: { dns: count } };
}

let cp: ControlPlane;
let llm: LlmServer;
let rec: Recorder;
let kube: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let dbName: string;
let runnable: Runnable;
let metrics: RuntimeMetrics;

before(async () => {
  const opts = controlPlaneOptionsFromEnv();
  [cp, llm] = await Promise.all([startControlPlane(opts), startLlm({ cacheDir: opts.cacheDir })]);
  rec = await startRecorder(llm.baseUrl);
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'journey-report');
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  dbName = `tm_journey_report_${uniqueSuffix()}`;
  db = mongo.db(dbName);
  metrics = new RuntimeMetrics();
  runnable = reportsRunnable({ mongodbUri: cp.mongoUri, database: dbName, namespace: NS }, { client: kube, log: quiet }, { metrics });
  runnable.start();
});

after(async () => {
  await runnable?.stop(10_000);
  await rec?.stop();
  await llm?.stop();
  await db?.dropDatabase();
  await mongo?.close();
  await kube?.delete(namespaces, NS).catch(() => undefined);
  await cp?.stop();
});

async function waitForRun(name: string, timeoutMs = 600_000): Promise<ThreatReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tr = await kube.get<ThreatReport>(THREAT_REPORTS, name, NS);
    if (tr?.status?.lastRun?.completionTime) return tr;
    if (Date.now() > deadline) throw new Error(`ThreatReport ${name} wrote no report in ${timeoutMs} ms: ${JSON.stringify(tr?.status)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function createReport(name: string, model: Partial<NonNullable<ThreatReportSpec['model']>>): Promise<ThreatReport> {
  const spec: ThreatReportSpec = {
    schedule: '0 0 1 1 *', window: '7d', audience: { maxTlp: 'amber' }, selection: { maxIndicators: 5 },
    model: { baseUrl: rec.baseUrl, model: llm.model, maxTlp: 'green', maxTokens: 320, timeoutSeconds: 300, ...model },
  };
  await kube.create(THREAT_REPORTS, { apiVersion: API_VERSION, kind: 'ThreatReport', metadata: { name, namespace: NS }, spec });
  return waitForRun(name);
}

function assertNothingAmberSent(): void {
  const amber = admissions[4]!;
  for (const s of rec.seen.filter((x) => x.path.endsWith('/chat/completions'))) {
    for (const secret of [amber.indicator.value, digestOf(amber), amber.meta.source ?? '']) assert.ok(!s.body.includes(secret), `no AMBER indicator reaches the GREEN endpoint (${secret})`);
  }
}

async function assertConfigMap(name: string): Promise<void> {
  const cm = await kube.get<KubeObject & { data?: Record<string, string> }>(CONFIGMAPS, name, NS);
  const data = cm?.data ?? {};
  assert.match(data['summary.md'] ?? '', /^\*\*TLP:AMBER\*\*/);
  assert.match(data['summary.html'] ?? '', /<h1>/);
  assert.equal((JSON.parse(data['summary.json'] ?? '{}') as { generator?: string }).generator, 'model');
}

const stored = async (id: string | undefined): Promise<ReportDocument> => {
  const d = await db.collection<ReportDocument & { _id: string }>(REPORTS).findOne({ _id: id ?? '' });
  assert.ok(d, `report ${id} is in MongoDB`);
  return d;
};

test('admissions, a revocation, sightings and a rejection land in the partner\'s store and cluster', async () => {
  const now = Date.now();
  const sink = await MongoIndicatorSink.open(db);
  await sink.applyMany(admissions.map((a, i) => addEntry(a, i, now)));
  await sink.applyMany([revokeEntry(admissions[3]!, admissions.length, now - DAY)]);
  await db.collection<SightingDoc>(SIGHTINGS).insertMany([sighting(admissions[0]!, 5, 40, now), sighting(admissions[0]!, 30, 12, now), sighting(admissions[2]!, 8, 3, now), sighting(admissions[4]!, 2, 900, now)]);
  await sink.applyMany([rejectEntry({ type: 'domain', value: 'false-positive.example' }, { tlp: 'clear', source: 'threatmesh/openphish' }, admissions.length + 1, now - DAY)]);
  assert.equal(await db.collection(INDICATORS).countDocuments({ state: 'active' }), 4, 'the rejected indicator is never among the indicators');
  const t = await new PartnerData(db).trends({ since: new Date(now - 7 * DAY), until: new Date(now + 1000) }, 'red');
  assert.equal(t.totals.admitted, 5);
  assert.equal(t.totals.revoked, 1);
});

test('a ThreatReport with the real model: generator "model", every citation resolves, nothing AMBER is sent', async (t) => {
  const started = Date.now();
  const tr = await createReport('weekly', {});
  const run = tr.status?.lastRun;
  t.diagnostic(`report written in ${Date.now() - started} ms: ${JSON.stringify(run)}`);
  assert.equal(run?.outcome, 'Succeeded', JSON.stringify(tr.status));
  assert.equal(run?.generator, 'model', `fallback: ${run?.fallbackReason ?? ''}`);
  const doc = await stored(run?.reportId);
  assert.equal(doc.summary.generator, 'model');
  assert.ok(doc.summary.citations.length > 0);
  const allowed = admissions.filter((a) => a.meta.tlp !== 'amber').map(digestOf);
  for (const d of doc.summary.citations) {
    assert.ok(allowed.includes(d), `citation ${d} is an offered GREEN-or-below indicator of the window`);
    assert.equal(await db.collection(INDICATORS).countDocuments({ _id: d as never }), 1, `citation ${d} resolves in the store`);
  }
  t.diagnostic(`attempts: ${JSON.stringify(doc.attempts)}`);
  assertNothingAmberSent();
  assert.equal(doc.trends.totals.rejected, 1, 'the replicated REJECT entry is counted');
  assert.equal(doc.trends.rejections.coverage, 'network');
  await assertConfigMap('weekly-report');
  const exposed = (await metrics.expose()).body;
  assert.match(exposed, new RegExp(`threatmesh_report_admitted\\{report="${NS}/weekly"\\} 5`), 'the headline gauge of the AMBER audience counts all five admissions');
  assert.match(exposed, new RegExp(`threatmesh_llm_tokens_total\\{model="${llm.model}",kind="completion"\\} [1-9]`));
});

test('the report through the HTTP routes, cut to the caller\'s TLP', async () => {
  const tr = await kube.get<ThreatReport>(THREAT_REPORTS, 'weekly', NS);
  const routes = reportRoutes({ reader: new PartnerData(db) });
  const server: Server = createServer((req, res) => {
    const maxTlp = req.headers['x-tlp'] === 'amber' ? 'amber' : 'green';
    void routes(req, res, { id: 'test', maxTlp });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const id = tr?.status?.lastRun?.reportId ?? '';
    assert.equal((await fetch(`${base}/reports/${id}.md`, { headers: { 'x-tlp': 'green' } })).status, 403);
    const md = await fetch(`${base}/reports/${id}.md`, { headers: { 'x-tlp': 'amber' } });
    assert.equal(md.status, 200);
    assert.match(await md.text(), /## Key threats/);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('without the citation enum, invented citations are refused by the grounding check, then regenerated or replaced', async (t) => {
  rec.seen.length = 0;
  const tr = await createReport('unconstrained', { citationEnum: false, regenerations: 2 });
  const doc = await stored(tr.status?.lastRun?.reportId);
  t.diagnostic(`attempts: ${JSON.stringify(doc.attempts)}; generator ${doc.summary.generator}; fallback ${doc.fallbackReason ?? '-'}`);
  const outcomes = doc.attempts.map((a) => a.outcome);
  assert.ok(outcomes.includes('refused'), `an answer was refused: ${JSON.stringify(doc.attempts)}`);
  assert.ok(doc.attempts.some((a) => a.problems.some((p) => /unknown-digest|not-offered|ungrounded-value/.test(p))), 'refused for citing what is not in the store');
  if (doc.summary.generator === 'model') assert.equal(outcomes.at(-1), 'accepted');
  else assert.match(doc.fallbackReason ?? '', /^(grounding|invalid-answer):/);
  const schemaSent = JSON.parse(rec.seen.find((s) => s.path.endsWith('/chat/completions'))?.body ?? '{}') as { response_format?: { schema?: unknown } };
  assert.doesNotMatch(JSON.stringify(schemaSent.response_format?.schema ?? {}), /"enum"/, 'no citation enum was sent');
  const allowed = admissions.map(digestOf);
  for (const d of doc.summary.citations) assert.ok(allowed.includes(d), `the final summary cites only real indicators (${d})`);
  assert.equal(tr.status?.conditions?.find((c) => c.type === 'Degraded')?.reason, doc.summary.generator === 'model' ? 'RunsHealthy' : 'ModelFallback');
});

test('every metric the dashboard\'s Reports row and the report alert read is on the operator\'s /metrics after the reports ran', async () => {
  const used = (await shippedSelectors()).filter((u) => u.row === REPORTS_ROW || /threatmesh_(report|llm)_/.test(u.name));
  assert.ok(used.length >= 12, `selectors of the Reports row and the report alert: ${used.length}`);
  const scraped = parseExposition((await metrics.expose()).body);
  assert.deepEqual(missingSelectors(used, scraped), []);
});
