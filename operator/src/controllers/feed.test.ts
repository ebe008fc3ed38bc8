import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SigningKey } from '../domain/signature.ts';
import { verifyProposal } from '../domain/entry.ts';
import { PROBE_PROPOSAL } from './testdata/probe.ts';
import { FeedReconciler } from './feed.ts';
import { INGEST_SPOOL_SIZE, JOBS, JobExecutor, type Job } from './jobexecutor.ts';
import { ExecutorBusyError, InProcessExecutor } from './inprocess.ts';
import { runIdFor, type FeedRunExecutor } from './executor.ts';
import { MemoryKube, TestClock, feed, testContext } from './fixtures.ts';
import { FEEDS } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { TerminalError } from '../runtime/types.ts';
import type { Feed, FeedSpec } from '../api/types.ts';
import { FEED_FINALIZER, REASON, RUN_REPORT_ANNOTATION } from '../api/reasons.ts';

const validator = validatorFor(createValidators(), 'Feed');
const config = { pollMs: 15_000, backoffBaseMs: 60_000, backoffCapMs: 3_600_000 };

function setup(spec: Partial<FeedSpec> = {}, executor?: (kube: MemoryKube, clock: TestClock) => FeedRunExecutor) {
  const kube = new MemoryKube();
  const clock = new TestClock('2026-11-25T12:00:00Z');
  const ctx = testContext(clock);
  const ex = executor ? executor(kube, clock) : new JobExecutor(kube, { image: 'ghcr.io/threatmesh/threatmesh:test' });
  const r = new FeedReconciler({ writer: kube, status: kube, executor: ex, validator, config });
  kube.seed(FEEDS, feed('feed-a', spec));
  const current = () => kube.peek<Feed>(FEEDS, 'feed-a', 'tm');
  const step = () => r.reconcile(ctx, 'tm/feed-a', current());
  return { kube, clock, ctx, r, current, step, ex };
}

function finishJob(kube: MemoryKube, name: string, type: 'Complete' | 'Failed', at: string, report?: unknown): void {
  const job = kube.objects.get(`jobs/tm/${name}`) as Job;
  assert.ok(job, `job ${name} exists`);
  job.status = { completionTime: type === 'Complete' ? at : undefined, conditions: [{ type, status: 'True', reason: type === 'Failed' ? 'BackoffLimitExceeded' : 'Completed', message: type === 'Failed' ? 'Job has reached the specified backoff limit' : '', lastTransitionTime: at }] };
  if (report) job.metadata.annotations = { [RUN_REPORT_ANNOTATION]: JSON.stringify(report) };
}

const jobs = (kube: MemoryKube) => [...kube.objects.keys()].filter((k) => k.startsWith('jobs/')).sort();

describe('FeedReconciler with the Job executor', () => {
  test('the operator\'s --allow-internal-feeds reaches the Job\'s ingest command, and nothing is allowed without it', () => {
    const command = (ex: JobExecutor): string[] => (ex.jobFor(feed(), 'r1').spec as { template: { spec: { containers: Array<{ command: string[] }> } } }).template.spec.containers[0]?.command ?? [];
    assert.deepEqual(command(new JobExecutor(new MemoryKube(), { image: 'i', allowInternalFeeds: ['10.20.0.0/16', '127.0.0.1/32'] })).slice(-2), ['--allow-internal-feeds', '10.20.0.0/16,127.0.0.1/32']);
    assert.equal(command(new JobExecutor(new MemoryKube(), { image: 'i' })).includes('--allow-internal-feeds'), false);
  });

  test('the Job\'s root file system is read-only, so its ingest spools to a size-limited emptyDir at /tmp', () => {
    type PodSpec = { containers: Array<{ securityContext: { readOnlyRootFilesystem: boolean }; volumeMounts?: Array<{ name: string; mountPath: string }> }>; volumes?: Array<{ name: string; emptyDir?: { sizeLimit?: string } }> };
    const pod = (new JobExecutor(new MemoryKube(), { image: 'i' }).jobFor(feed(), 'r1').spec as { template: { spec: PodSpec } }).template.spec;
    const c = pod.containers[0]!;
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const mount = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(mount, 'a writable /tmp is mounted');
    assert.deepEqual(pod.volumes?.find((v) => v.name === mount.name)?.emptyDir, { sizeLimit: INGEST_SPOOL_SIZE });
  });

  test('a new interval Feed gets the finalizer and its first run as an owned Job', async () => {
    const { kube, step, current, ctx } = setup();
    assert.deepEqual(await step(), { requeueAfterMs: 15_000 });
    const f = current();
    assert.deepEqual(f?.metadata.finalizers, [FEED_FINALIZER]);
    const runId = runIdFor(f, new Date('2026-11-25T11:00:00Z'));
    assert.deepEqual(jobs(kube), [`jobs/tm/${runId}`]);
    const job = kube.peek<Job>(JOBS, runId, 'tm') as Job;
    const spec = job.spec as { activeDeadlineSeconds: number; backoffLimit: number; template: { spec: { serviceAccountName: string; containers: Array<{ image: string; command: string[]; env: unknown; resources: unknown }> } } };
    assert.deepEqual(spec.template.spec.containers[0]?.command, ['threatmesh', 'ingest', '--feed', 'tm/feed-a', '--run-id', runId]);
    assert.equal(spec.template.spec.serviceAccountName, 'threatmesh-ingest', 'runs as the least-privilege ingest ServiceAccount by default');
    assert.deepEqual(spec.template.spec.containers.map((c) => [c.env, c.resources]), [[
      [{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' }],
      { requests: { cpu: '250m', memory: '192Mi' }, limits: { memory: '256Mi' } },
    ]]);
    assert.equal(spec.activeDeadlineSeconds, 3600);
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, f?.metadata.uid);
    assert.equal(job.metadata.labels?.['threatmesh.io/feed'], 'feed-a');
    assert.equal(f?.status?.activeRun?.runId, runId);
    assert.equal(f?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, REASON.RunStarted);
    assert.deepEqual(ctx.recorder.events.map((e) => e.reason), [REASON.RunStarted]);
  });

  test('never two runs: reconciling while a run is active starts nothing', async () => {
    const { kube, step, clock } = setup({ schedule: { interval: '1m' } });
    await step();
    clock.advance(10 * 60_000);
    await step();
    await step();
    assert.equal(jobs(kube).length, 1);
  });

  test('a finished run is recorded with counts; the next run is requeued exactly at its due time', async () => {
    const { kube, step, current, clock } = setup();
    await step();
    const runId = current()?.status?.activeRun?.runId ?? '';
    clock.set('2026-11-25T12:05:00Z');
    finishJob(kube, runId, 'Complete', '2026-11-25T12:04:00Z', { outcome: 'succeeded', fetched: 120, new: 7, duplicate: 110, rejected: { 'invalid-ipv4': 3 } });
    assert.deepEqual(await step(), { requeueAfterMs: 55 * 60_000 });
    const s = current()?.status;
    assert.equal(s?.activeRun, undefined);
    assert.equal(s?.lastRun?.outcome, 'Succeeded');
    assert.equal(s?.lastRun?.summary, '120/7');
    assert.deepEqual(s?.lastRun?.counts, { fetched: 120, new: 7, duplicate: 110, rejected: 3, rejectedReasons: { 'invalid-ipv4': 3 } });
    assert.equal(s?.lastRun?.completionTime, '2026-11-25T12:04:00Z');
    assert.equal(s?.nextRun, '2026-11-25T13:00:00Z');
    assert.equal(s?.schedule, 'every 1h');
    assert.equal(s?.observedGeneration, 1);
  });

  test('failures back off exponentially and set Degraded with the Job message', async () => {
    const { kube, step, current, clock } = setup({ schedule: { interval: '1m' } });
    await step();
    finishJob(kube, current()?.status?.activeRun?.runId ?? '', 'Failed', '2026-11-25T12:00:30Z');
    clock.set('2026-11-25T12:00:40Z');
    const res = await step();
    const s = current()?.status;
    assert.equal(s?.consecutiveFailures, 1);
    assert.equal(s?.nextRun, '2026-11-25T12:01:30Z');
    assert.deepEqual(res, { requeueAfterMs: 50_000 });
    const degraded = s?.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.status, 'True');
    assert.match(degraded?.message ?? '', /1 consecutive failed run\(s\); last: Job .* failed: BackoffLimitExceeded/);
  });

  test('a restarted operator adopts the running Job instead of starting another', async () => {
    const { kube, step, current, clock } = setup({ schedule: { interval: '1m' } });
    await step();
    const f = current() as Feed;
    kube.objects.set('feeds/tm/feed-a', { ...f, status: {} });
    clock.advance(5 * 60_000);
    await step();
    assert.equal(jobs(kube).length, 1);
    assert.equal(current()?.status?.activeRun?.runId, f.status?.activeRun?.runId);
  });

  test('history limits delete the oldest finished Jobs', async () => {
    const { kube, step, current, clock } = setup({ schedule: { interval: '1m' }, historyLimits: { successful: 2, failed: 1 } });
    for (let i = 0; i < 5; i++) {
      await step();
      const runId = current()?.status?.activeRun?.runId ?? '';
      const job = kube.objects.get(`jobs/tm/${runId}`);
      if (job) job.metadata.creationTimestamp = clock.now().toISOString();
      finishJob(kube, runId, 'Complete', clock.now().toISOString());
      clock.advance(2 * 60_000);
      await step();
    }
    assert.equal(jobs(kube).length, 3, jobs(kube).join());
  });

  test('a cron Feed waits for its first match', async () => {
    const { kube, step, current } = setup({ schedule: { cron: '15 */6 * * *' } });
    assert.deepEqual(await step(), { requeueAfterMs: 15 * 60_000 });
    assert.equal(jobs(kube).length, 0);
    assert.equal(current()?.status?.nextRun, '2026-11-25T12:15:00Z');
    assert.equal(current()?.status?.schedule, 'cron 15 */6 * * *');
  });

  test('a suspended Feed starts nothing and says so', async () => {
    const { kube, step, current } = setup({ suspend: true });
    assert.deepEqual(await step(), {});
    assert.equal(jobs(kube).length, 0);
    assert.equal(current()?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, REASON.Suspended);
  });

  const bad: Array<[string, Partial<FeedSpec>, RegExp]> = [
    ['interval and cron', { schedule: { interval: '1h', cron: '0 * * * *' } }, /spec\.schedule: set exactly one of schedule\.interval or schedule\.cron/],
    ['bad cron', { schedule: { cron: '61 * * * *' } }, /spec\.schedule: cron minute 61 is outside 0-59/],
    ['no source', { url: undefined }, /spec: set exactly one of url or taxii/],
  ];
  for (const [name, spec, re] of bad) {
    test(`${name} → TerminalError InvalidSpec`, async () => {
      const { step, kube } = setup(spec);
      await assert.rejects(step(), (err: unknown) => err instanceof TerminalError && err.reason === REASON.InvalidSpec && re.test(err.message));
      assert.equal(jobs(kube).length, 0);
    });
  }

  test('a cron that never fires is terminal', async () => {
    const { step } = setup({ schedule: { cron: '0 0 31 2 *' } });
    await assert.rejects(step(), (err: unknown) => err instanceof TerminalError && err.reason === REASON.NeverFires);
  });

  test('deletion cancels the active run, then releases the finalizer', async () => {
    const { kube, step, current } = setup();
    await step();
    assert.equal(jobs(kube).length, 1);
    await kube.delete(FEEDS, 'feed-a', 'tm');
    assert.ok(current()?.metadata.deletionTimestamp);
    await step();
    assert.deepEqual(jobs(kube), []);
    assert.equal(current(), undefined);
  });
});

async function settled(ex: InProcessExecutor, f: Feed, runId: string) {
  for (;;) {
    const s = await ex.status(f, { runId });
    if (s.phase !== 'Running') return s;
    await sleep(10);
  }
}

describe('InProcessExecutor', () => {
  const module = new URL('./testdata/ingestion.ts', import.meta.url);
  const now = () => new Date('2026-11-25T12:00:00Z');

  test('runs the ingestion function in a worker and reports its counts', async () => {
    const ex = new InProcessExecutor({ module }, now);
    const f = feed();
    assert.deepEqual(await ex.start(f, 'r1'), { runId: 'r1' });
    assert.deepEqual(await ex.active(f), { runId: 'r1' });
    assert.deepEqual(await ex.start(f, 'r2'), { runId: 'r1' }, 'a second start while running adopts the first');
    const s = await settled(ex, f, 'r1');
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.phase === 'Succeeded' ? s.report?.new : -1, 7);
    assert.equal(await ex.active(f), undefined);
  });

  const failing: Array<[string, RegExp]> = [['https://x.example/fail', /HTTP 503 from the feed/], ['https://x.example/throw', /fetch of https:\/\/x\.example\/throw refused \(run r1\)/]];
  for (const [url, re] of failing) {
    test(`a failing run (${url}) is Failed with its message`, async () => {
      const ex = new InProcessExecutor({ module }, now);
      const f = feed('feed-a', { url });
      await ex.start(f, 'r1');
      const s = await settled(ex, f, 'r1');
      assert.equal(s.phase, 'Failed');
      assert.match(s.phase === 'Failed' ? s.message : '', re);
    });
  }

  test('at most maxConcurrent runs at once across Feeds', async () => {
    const ex = new InProcessExecutor({ module, maxConcurrent: 1 }, now);
    const a = feed('a');
    await ex.start(a, 'ra');
    await assert.rejects(ex.start(feed('b'), 'rb'), ExecutorBusyError);
    await settled(ex, a, 'ra');
    assert.deepEqual(await ex.start(feed('b'), 'rb'), { runId: 'rb' });
    await settled(ex, feed('b'), 'rb');
  });

  test('a missing export is reported, an unknown run is Lost', async () => {
    const ex = new InProcessExecutor({ module, exportName: 'nope' }, now);
    const f = feed();
    await ex.start(f, 'r1');
    const s = await settled(ex, f, 'r1');
    assert.match(s.phase === 'Failed' ? s.message : '', /does not export a function nope/);
    assert.equal((await ex.status(f, { runId: 'other' })).phase, 'Lost');
  });

  test('the parser runs apart from the signing key: it cannot read the key, gets no key path, and can only have proposals signed (trust model)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'threatmesh-key-'));
    try {
      const key = SigningKey.generate();
      const keyPath = join(dir, 'private.pem');
      await writeFile(keyPath, key.toPem(), { mode: 0o600 });
      const ex = new InProcessExecutor({ module: new URL('./testdata/probe.ts', import.meta.url), context: { partnerId: 'acme', signingKeyPath: keyPath } }, now);
      const f = feed('probe', { url: `https://x.example/?key=${encodeURIComponent(keyPath)}` });
      await ex.start(f, 'r1');
      const s = await settled(ex, f, 'r1');
      assert.equal(s.phase, 'Succeeded', s.phase === 'Failed' ? s.message : '');
      const findings = Object.keys(s.phase === 'Succeeded' ? s.report?.rejected ?? {} : {});
      assert.ok(findings.includes('key-file:ERR_ACCESS_DENIED'), findings.join(' '));
      assert.ok(findings.includes('context-key-path:absent'), findings.join(' '));
      assert.ok(findings.includes('unnormalized:refused'), findings.join(' '));
      // The proposal it asked for is signed by the operator's key, over exactly what it sent.
      const signature = findings.find((x) => x.startsWith('signature:'))?.slice('signature:'.length) ?? '';
      assert.equal(verifyProposal(key.publicKey, 'add', PROBE_PROPOSAL.indicator, signature, PROBE_PROPOSAL.meta), true);
      await ex.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the Feed controller drives an in-process run to a recorded success', async () => {
    const { step, current, ex } = setup({}, (_k, clock) => new InProcessExecutor({ module }, clock.now));
    await step();
    const runId = current()?.status?.activeRun?.runId ?? '';
    await settled(ex as InProcessExecutor, current() as Feed, runId);
    await step();
    assert.equal(current()?.status?.lastRun?.outcome, 'Succeeded');
    assert.equal(current()?.status?.lastRun?.summary, '10/7');
    await (ex as InProcessExecutor).close();
  });
});
