import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, THREAT_REPORTS } from '../api/schemas/index.ts';
import type { ThreatReport, ThreatReportSpec } from '../api/types.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { CONFIGMAPS } from '../feeds/allowlists.ts';
import { SECRETS } from '../feeds/feedrun.ts';
import { TerminalError, type KubeObject } from '../runtime/types.ts';
import { MemoryKube, TestClock, testContext } from './fixtures.ts';
import { REASON } from '../api/reasons.ts';
import { ThreatReportReconciler, type ReportRunInput, type ReportRunResult, type ThreatReportGenerator } from './threatreport.ts';

const validator = validatorFor(createValidators(), 'ThreatReport');

function report(spec: Partial<ThreatReportSpec> = {}): ThreatReport {
  return { apiVersion: API_VERSION, kind: 'ThreatReport', metadata: { name: 'weekly', namespace: 'tm', uid: 'uid-weekly', generation: 1, resourceVersion: '1', creationTimestamp: '2026-11-25T11:00:00Z' }, spec: { schedule: '0 7 * * 1', window: '7d', audience: { maxTlp: 'green' }, ...spec } };
}

class FakeGenerator implements ThreatReportGenerator {
  readonly runs: ReportRunInput[] = [];
  readonly forgotten: string[] = [];
  fail: Error | undefined;
  run(input: ReportRunInput): Promise<ReportRunResult> {
    this.runs.push(input);
    if (this.fail) return Promise.reject(this.fail);
    return Promise.resolve({ reportId: `tm.weekly.${this.runs.length}`, generator: 'model', headline: 'Two C2 servers', citations: 2, offered: 5, attempts: 1, fallbackReason: undefined, markdown: '# md', html: '<h1>h</h1>', json: '{}' });
  }
  forget(key: string): void {
    this.forgotten.push(key);
  }
}

function setup(spec: Partial<ThreatReportSpec> = {}) {
  const kube = new MemoryKube();
  const clock = new TestClock('2026-11-25T12:00:00Z');
  const ctx = testContext(clock);
  const gen = new FakeGenerator();
  const r = new ThreatReportReconciler({ reader: kube, writer: kube, status: kube, generator: gen, validator, config: { backoffBaseMs: 60_000, backoffCapMs: 3_600_000 } });
  kube.seed(THREAT_REPORTS, report(spec));
  const current = () => kube.peek<ThreatReport>(THREAT_REPORTS, 'weekly', 'tm');
  const step = () => r.reconcile(ctx, 'tm/weekly', current());
  return { kube, clock, ctx, gen, current, step, r };
}

test('a new ThreatReport gets its first report at once, a ConfigMap it owns, a short status, and waits for the cron time', async () => {
  const { kube, gen, current, step, ctx } = setup();
  const res = await step();
  assert.equal(gen.runs.length, 1);
  assert.equal(gen.runs[0]?.key, 'tm/weekly');
  const st = current()?.status;
  assert.deepEqual({ ...st?.lastRun, startTime: undefined, completionTime: undefined }, { reportId: 'tm.weekly.1', startTime: undefined, completionTime: undefined, outcome: 'Succeeded', generator: 'model', headline: 'Two C2 servers', citations: 2, offered: 5, attempts: 1 });
  assert.equal(st?.nextRun, '2026-11-30T07:00:00Z', 'next Monday 07:00 UTC');
  assert.equal(res.requeueAfterMs, Date.parse('2026-11-30T07:00:00Z') - Date.parse('2026-11-25T12:00:00Z'));
  const cm = kube.peek<KubeObject & { data: Record<string, string> }>(CONFIGMAPS, 'weekly-report', 'tm');
  assert.deepEqual(Object.keys(cm?.data ?? {}).sort(), ['summary.html', 'summary.json', 'summary.md']);
  assert.equal(cm?.metadata.ownerReferences?.[0]?.uid, 'uid-weekly');
  assert.equal(st?.configMap, 'weekly-report');
  assert.equal(st?.conditions?.find((c) => c.type === 'Ready')?.reason, REASON.Scheduled);
  assert.deepEqual(ctx.recorder.events.map((e) => e.reason), [REASON.RunSucceeded]);
  await step();
  assert.equal(gen.runs.length, 1, 'not due again before the cron time');
});

const condition = (tr: ThreatReport | undefined, type: string) => tr?.status?.conditions?.find((c) => c.type === type);

test('failures back off, show Degraded, and recover', async () => {
  const { gen, current, step, clock } = setup();
  gen.fail = new Error('cannot reach MongoDB');
  await step();
  const failed = current()?.status ?? {};
  assert.equal(failed.lastRun?.outcome, 'Failed');
  assert.equal(failed.consecutiveFailures, 1);
  assert.match(condition(current(), 'Degraded')?.message ?? '', /1 consecutive failed run\(s\); last: cannot reach MongoDB/);
  clock.advance(7 * 86_400_000);
  gen.fail = undefined;
  await step();
  assert.equal(current()?.status?.lastRun?.outcome, 'Succeeded');
  assert.equal(condition(current(), 'Degraded')?.status, 'False');
});

test('the API key comes from the Secret; a missing one is a failed run that says how to create it', async () => {
  const { kube, gen, current, step, clock } = setup({ model: { baseUrl: 'http://127.0.0.1:1/v1', model: 'm', apiKeySecretRef: { name: 'llm-key' } } });
  await step();
  assert.match(current()?.status?.lastRun?.message ?? '', /Secret llm-key not found; create it with its label \(a ThreatReport sends only Secrets labelled for it\): kubectl -n tm create secret generic llm-key --from-literal=apiKey=KEY && kubectl -n tm label secret llm-key threatmesh\.io\/report-credentials=true/);
  kube.seed(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'llm-key', namespace: 'tm' }, data: { apiKey: Buffer.from('sk-test\n').toString('base64') } } as KubeObject);
  clock.advance(7 * 86_400_000);
  await step();
  assert.match(current()?.status?.lastRun?.message ?? '', /is not labelled for model credentials; a ThreatReport sends only Secrets meant for it: kubectl -n tm label secret llm-key threatmesh.io\/report-credentials=true/, 'an unlabelled Secret is never sent');
  kube.seed(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'llm-key', namespace: 'tm', labels: { 'threatmesh.io/report-credentials': 'true' } }, data: { apiKey: Buffer.from('sk-test\n').toString('base64') } } as KubeObject);
  clock.advance(7 * 86_400_000);
  await step();
  assert.equal(gen.runs.at(-1)?.apiKey, 'sk-test');
});

test('a fallback to the extractive summary shows as Degraded ModelFallback', async () => {
  const { gen, current, step } = setup();
  gen.run = (input) => { gen.runs.push(input); return Promise.resolve({ reportId: 'x', generator: 'extractive', headline: 'h', citations: 1, offered: 1, attempts: 3, fallbackReason: 'grounding: 3 answer(s) refused', markdown: '', html: '', json: '{}' }); };
  await step();
  const degraded = current()?.status?.conditions?.find((c) => c.type === 'Degraded');
  assert.equal(degraded?.reason, REASON.ModelFallback);
  assert.match(degraded?.message ?? '', /grounding: 3 answer\(s\) refused/);
});

const ready = (tr: ThreatReport | undefined): string | undefined => tr?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;

test('invalid specs are terminal; suspended reports write nothing; deleted ones are forgotten', async () => {
  const bad = setup({ schedule: '0 7 * *' });
  await assert.rejects(bad.step(), (e: unknown) => e instanceof TerminalError && /spec.schedule: cron "0 7 \* \*" has 4 fields/.test(e.message));
  const badTlp = setup({ audience: { maxTlp: 'white' as 'green' } });
  await assert.rejects(badTlp.step(), (e: unknown) => e instanceof TerminalError && /invalid ThreatReport/.test(e.message));
  const suspended = setup({ suspend: true });
  await suspended.step();
  assert.equal(suspended.gen.runs.length, 0);
  assert.equal(ready(suspended.current()), REASON.Suspended);
  await suspended.r.reconcile(suspended.ctx, 'tm/weekly', undefined);
  assert.deepEqual(suspended.gen.forgotten, ['tm/weekly']);
});
