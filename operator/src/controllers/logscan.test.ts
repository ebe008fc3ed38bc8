import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogScan, LogScanSpec } from '../api/types.ts';
import { LOG_SCANS } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { ScanError } from '../match/errors.ts';
import type { InputFacts } from '../match/plan.ts';
import type { ShardDoc } from '../store/sightings.ts';
import { MemoryKube, TestClock, testContext } from './fixtures.ts';
import { LOGSCAN_FINALIZER, LogScanReconciler } from './logscan.ts';
import { JOBS, type Job } from './jobexecutor.ts';
import { JobScanExecutor, scanJob, scanJobName, type ScanShardExecutor } from './logscanexec.ts';

const validator = validatorFor(createValidators(), 'LogScan');

/** The scan store in memory: the same transitions as store/sightings.ts, no database. */
class MemoryScanStore {
  readonly docs = new Map<string, ShardDoc>();
  readonly rolled: string[] = [];
  readonly released: string[] = [];
  shards(planId: string): Promise<ShardDoc[]> {
    return Promise.resolve([...this.docs.values()].filter((d) => d.planId === planId).sort((a, b) => a.index - b.index));
  }
  savePlan(planId: string, shards: ReadonlyArray<Omit<ShardDoc, '_id' | 'planId' | 'state' | 'attempts'>>): Promise<void> {
    for (const s of shards) if (!this.docs.has(`${planId}:${s.index}`)) this.docs.set(`${planId}:${s.index}`, { ...s, _id: `${planId}:${s.index}`, planId, state: 'pending', attempts: 0 });
    return Promise.resolve();
  }
  releaseShard(planId: string, index: number): Promise<void> {
    const d = this.docs.get(`${planId}:${index}`);
    if (d?.state === 'running') d.state = 'pending';
    this.released.push(`${planId}:${index}`);
    return Promise.resolve();
  }
  rollupShard(planId: string, index: number): Promise<number> {
    const d = this.docs.get(`${planId}:${index}`);
    if (d) d.rolledUp = true;
    this.rolled.push(`${planId}:${index}`);
    return Promise.resolve(0);
  }
  deletePlan(planId: string): Promise<void> {
    for (const k of [...this.docs.keys()]) if (k.startsWith(`${planId}:`)) this.docs.delete(k);
    return Promise.resolve();
  }
  set(planId: string, index: number, patch: Partial<ShardDoc>): void {
    const d = this.docs.get(`${planId}:${index}`);
    assert.ok(d);
    Object.assign(d, patch);
  }
}

/** Records what the reconciler asks the executor to run. */
class RecordingExecutor implements ScanShardExecutor {
  readonly calls = new Map<string, { ready: number[]; slots: number }>();
  live = new Map<string, Set<number>>();
  ensure(scan: LogScan, ready: readonly number[], slots: number): Promise<void> {
    this.calls.set(scan.metadata.name, { ready: [...ready], slots });
    return Promise.resolve();
  }
  running(scan: LogScan): Promise<ReadonlySet<number>> {
    return Promise.resolve(this.live.get(scan.metadata.name) ?? new Set());
  }
  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

const FOUR_FILES: InputFacts[] = [1, 2].map((i) => ({ input: { kind: 'file', path: `/logs/${i}.log` }, size: 2 * 1_048_576, compressed: false }));

function scanOf(name: string, spec: Partial<LogScanSpec> = {}): LogScan {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'LogScan', metadata: { name, namespace: 'tm', creationTimestamp: '2026-11-25T11:00:00Z', generation: 1 }, spec: { source: { file: { path: '/logs' } }, format: 'zeek', shardBytes: 1_048_576, ...spec } };
}

function setup(planner: () => Promise<InputFacts[]> = () => Promise.resolve(FOUR_FILES), capacity = 2) {
  const kube = new MemoryKube();
  const clock = new TestClock('2026-11-25T12:00:00Z');
  const ctx = testContext(clock);
  const store = new MemoryScanStore();
  const executor = new RecordingExecutor();
  const r = new LogScanReconciler({
    writer: kube, status: kube, validator, store, executor, scans: () => [...kube.objects.values()].filter((o) => o.kind === 'LogScan') as LogScan[],
    secrets: () => () => Promise.resolve(undefined), partnerId: 'acme', planner, config: { capacity, pollMs: 1000 },
  });
  const add = (s: LogScan): LogScan => kube.seed(LOG_SCANS, s);
  const get = (name: string): LogScan => kube.peek<LogScan>(LOG_SCANS, name, 'tm') as LogScan;
  const step = async (name: string) => r.reconcile(ctx, `tm/${name}`, get(name));
  return { kube, clock, ctx, store, executor, add, get, step };
}

describe('LogScanReconciler', () => {
  test('plans once, runs the ready shards within its share, and reports progress', async () => {
    const t = setup();
    t.add(scanOf('a'));
    await t.step('a');
    await t.step('a');
    const s = t.get('a');
    assert.deepEqual(s.metadata.finalizers, [LOGSCAN_FINALIZER]);
    const planId = s.metadata.uid ?? '';
    assert.equal((await t.store.shards(planId)).length, 4, 'two 2 MiB files in 1 MiB shards');
    assert.deepEqual(t.executor.calls.get('a'), { ready: [0, 1, 2, 3], slots: 2 });
    assert.equal(s.status?.phase, 'Pending');
    assert.deepEqual(t.ctx.recorder.events.map((e) => e.reason), ['ScanPlanned']);
    t.store.set(planId, 0, { state: 'running', progress: { inputBytes: 524_288, bytes: 524_288, lines: 1000, matchedRecords: 3 } });
    t.executor.live.set('a', new Set([0]));
    t.clock.advance(10_000);
    await t.step('a');
    const st = t.get('a').status;
    assert.equal(st?.phase, 'Running');
    assert.deepEqual(st?.shards, { total: 4, succeeded: 0, running: 1, failed: 0, pending: 3, allotted: 2 });
    assert.equal(st?.progress?.percent, 12);
    assert.equal(st?.progress?.bytesTotal, 4 * 1_048_576);
  });

  test('a shard whose worker is gone goes back to pending; done shards are rolled up once; all done: Succeeded', async () => {
    const t = setup();
    t.add(scanOf('a'));
    await t.step('a');
    await t.step('a');
    const planId = t.get('a').metadata.uid ?? '';
    t.store.set(planId, 1, { state: 'running' });
    await t.step('a');
    assert.deepEqual(t.store.released, [`${planId}:1`]);
    const result = { lines: 10, bytes: 1_048_576, matchedRecords: 2, indicators: 1, rejected: { 'missing-fields': 1 }, outsideTimeRange: 0 };
    for (const i of [0, 1, 2, 3]) t.store.set(planId, i, { state: 'done', result, rolledUp: false });
    await t.step('a');
    await t.step('a');
    assert.deepEqual(t.store.rolled.sort(), [0, 1, 2, 3].map((i) => `${planId}:${i}`));
    const st = t.get('a').status;
    assert.equal(st?.phase, 'Succeeded');
    assert.equal(st?.progress?.percent, 100);
    assert.deepEqual(st?.rejected, { 'missing-fields': 4 });
    assert.ok(st?.completionTime);
    assert.equal(st?.conditions?.find((c) => c.type === 'Ready')?.reason, 'ScanSucceeded');
  });

  test('weighted fair share between competing scans', async () => {
    const t = setup(() => Promise.resolve(FOUR_FILES.concat(FOUR_FILES)), 3);
    t.add(scanOf('low', { priority: 10 }));
    t.add(scanOf('high', { priority: 20 }));
    for (let i = 0; i < 2; i++) for (const n of ['low', 'high']) await t.step(n);
    assert.equal(t.executor.calls.get('high')?.slots, 2);
    assert.equal(t.executor.calls.get('low')?.slots, 1);
    t.add(scanOf('capped', { priority: 1000, maxParallelism: 1 }));
    for (let i = 0; i < 2; i++) for (const n of ['low', 'high', 'capped']) await t.step(n);
    assert.deepEqual(['low', 'high', 'capped'].map((n) => t.executor.calls.get(n)?.slots), [1, 1, 1]);
  });

  test('a shard that failed three times fails the scan (Ready=False)', async () => {
    const t = setup(() => Promise.resolve(FOUR_FILES.slice(0, 1)));
    t.add(scanOf('a', { shardBytes: 4 * 1_048_576 }));
    await t.step('a');
    await t.step('a');
    const planId = t.get('a').metadata.uid ?? '';
    t.store.set(planId, 0, { state: 'failed', attempts: 3, error: 'unreadable: permission denied' });
    await t.step('a');
    const st = t.get('a').status;
    assert.equal(st?.phase, 'Failed');
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /permission denied/);
  });

  test('a source that cannot be listed is reported and tried again later; an invalid spec is terminal', async () => {
    const t = setup(() => Promise.reject(new ScanError('object-store', 'GET /logs: SignatureDoesNotMatch: check the access key and secret')));
    t.add(scanOf('a'));
    await t.step('a');
    const res = await t.step('a');
    assert.equal(res.requeueAfterMs, 30_000);
    const ready = t.get('a').status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'SourceUnreadable');
    assert.match(ready?.message ?? '', /SignatureDoesNotMatch/);
    t.add(scanOf('bad', { format: 'pcap' as LogScanSpec['format'] }));
    await assert.rejects(t.step('bad'), (err: Error) => err.name === 'TerminalError' && /spec.format: must be one of/.test(err.message));
  });
});

describe('JobScanExecutor', () => {
  test('one Indexed Job per scan; its parallelism follows the share', async () => {
    const kube = new MemoryKube();
    const ex = new JobScanExecutor(kube, { image: 'threatmesh:test', mongodbUriSecret: { name: 'mongo', key: 'uri' } });
    const scan = kube.seed(LOG_SCANS, scanOf('a', { source: { file: { path: 'zeek', claimName: 'logs' } } }));
    await ex.ensure(scan, [0, 1, 2], 2, 3);
    const job = kube.peek<Job>(JOBS, scanJobName(scan), 'tm');
    assert.ok(job);
    const spec = job.spec;
    assert.ok(spec);
    assert.deepEqual([spec.completionMode, spec.completions, spec.parallelism, spec.backoffLimitPerIndex], ['Indexed', 3, 2, 2]);
    const pod = (spec.template as { spec: { containers: Array<{ command: string[]; env: Array<{ name: string }>; volumeMounts: unknown[] }>; volumes: unknown[] } }).spec;
    assert.deepEqual(pod.containers[0]?.command.slice(1, 5), ['scan', '--logscan', 'tm/a', '--shard']);
    assert.deepEqual(pod.containers[0]?.env.map((e) => e.name), ['SHARD', 'MONGODB_URI']);
    assert.deepEqual(pod.volumes, [{ name: 'logs', persistentVolumeClaim: { claimName: 'logs', readOnly: true } }]);
    await ex.ensure(scan, [2], 1, 3);
    assert.equal(kube.peek<Job>(JOBS, job.metadata.name, 'tm')?.spec?.['parallelism'], 1);
    assert.equal(scanJob(scan, 0, 3, { image: 'x', mongodbUriSecret: { name: 'm', key: 'k' } }).metadata.name.length <= 63, true);
  });
});
