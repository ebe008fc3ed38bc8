import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ThreatIndicator } from '../../api/types.ts';
import type { VerifiedEntry } from '../../domain/stores.ts';
import { Writable } from 'node:stream';
import { createLogger } from '../../log.ts';
import type { IndicatorRecord } from '../../store/indicators.ts';
import { Materializer, PINNED_LABEL, evictable, materializeFloor } from './materializer.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');

function obj(name: string, status: ThreatIndicator['status'], labels?: Record<string, string>, annotations?: Record<string, string>): ThreatIndicator {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: 'tm', ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }, spec: { type: 'ipv4', value: '192.0.2.1' }, ...(status ? { status } : {}) };
}

test('the floor keeps the newest budget positions', () => {
  const cases: Array<[number, number, number]> = [[0, 10, 0], [5, 10, 0], [10, 10, 0], [25, 10, 15]];
  for (const [size, budget, want] of cases) assert.equal(materializeFloor(size, budget), want, `${size}/${budget}`);
});

test('eviction takes only log-written, unpinned objects below the floor', () => {
  const rv = { logIndex: 50, proposerId: 'a', signature: 's', window: { opensAt: 'x', closesAt: 'y' }, votes: [] };
  const objects = [
    obj('old', { logIndex: 3 }), obj('new', { logIndex: 40 }), obj('local-proposal', { phase: 'Proposed' }),
    obj('pinned', { logIndex: 1 }, { [PINNED_LABEL]: 'true' }), obj('voted', { logIndex: 2 }, undefined, { 'threatmesh.io/vote': 'approve' }),
    obj('revoked-late', { logIndex: 1, revocation: rv }), obj('revoked-early', { logIndex: 1, revocation: { ...rv, logIndex: 5 } }),
    obj('unpinned-label', { logIndex: 4 }, { [PINNED_LABEL]: 'false' }),
  ];
  assert.deepEqual(evictable(objects, 10), ['old', 'revoked-early', 'unpinned-label']);
});

const unused = (): Promise<void> => Promise.reject(new Error('no records resumed in this test'));

function record(logIndex: number, revokedAtIndex?: number): IndicatorRecord {
  return { digest: `d${logIndex}`, type: 'domain', value: `r${logIndex}.example`, state: revokedAtIndex === undefined ? 'active' : 'revoked', logIndex, proposerId: 'a', votes: [], ...(revokedAtIndex !== undefined ? { revokedAtIndex } : {}) };
}

function entry(index: number): VerifiedEntry {
  return { index } as unknown as VerifiedEntry;
}

test('the materializer writes in the background and never queues more than the budget', async () => {
  const written: number[] = [];
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => { release = r; });
  const m = new Materializer({ sink: { applyMany: async (es) => { await gate; written.push(...es.map((e) => e.index)); }, restore: unused }, budget: 5, log: quiet, batch: 2 });
  m.offer([entry(0), entry(1)], 2);
  m.offer(Array.from({ length: 10 }, (_, i) => entry(i + 2)), 12);
  assert.equal(m.floor, 7);
  release();
  gate = Promise.resolve();
  await m.idle();
  // The first batch (0, 1) was already being written; after it only positions >= 7 remain.
  assert.deepEqual(written, [0, 1, 7, 8, 9, 10, 11]);
  assert.equal(m.dropped, 5);
});

test('a failed write is retried, not lost', async () => {
  let fails = 1;
  const written: number[] = [];
  const m = new Materializer({ sink: { applyMany: (es) => { if (fails-- > 0) return Promise.reject(new Error('apiserver down')); written.push(...es.map((e) => e.index)); return Promise.resolve(); }, restore: unused }, budget: 100, log: quiet, retryMs: 5 });
  m.offer([entry(0), entry(1)], 2);
  await m.idle();
  assert.deepEqual(written, [0, 1]);
});

test('failed writes are reported, retried with a doubling pause up to the cap, and the recovery is told once', async () => {
  let fails = 4;
  const at: number[] = [];
  const events: string[] = [];
  const m = new Materializer({
    sink: { applyMany: () => { at.push(Date.now()); return fails-- > 0 ? Promise.reject(new Error('503')) : Promise.resolve(); }, restore: unused },
    budget: 100, log: quiet, retryMs: 20, maxRetryMs: 60,
    onFailed: (err) => events.push(`failed: ${(err as Error).message}`), onRecovered: () => events.push('recovered'),
  });
  m.offer([entry(0)], 1);
  await m.idle();
  assert.deepEqual(events, ['failed: 503', 'failed: 503', 'failed: 503', 'failed: 503', 'recovered']);
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  // 20, 40, 60 (capped), 60 (capped); timers may fire late, never early.
  for (const [i, want] of [20, 40, 60, 60].entries()) assert.ok(gaps[i]! >= want - 2, `gap ${i}: ${gaps[i]} ms, want >= ${want}`);
  assert.ok(gaps[3]! < 60 * 2 + 100, `the pause is capped: ${gaps[3]} ms`);
});

test('resumed records are written before new entries, in log order, dropped below the floor, and the written position counts them', async () => {
  const log: string[] = [];
  const marks: number[] = [];
  const m = new Materializer({
    sink: {
      applyMany: (es) => { log.push(`entries ${es.map((e) => e.index).join(',')}`); return Promise.resolve(); },
      restore: (rs) => { log.push(`records ${rs.map((r) => r.logIndex).join(',')}`); return Promise.resolve(); },
    },
    budget: 10, log: quiet, batch: 2, onWritten: (n) => marks.push(n),
  });
  // Position 1 is below the floor (14 - 10): dropped. The revoked record sits at its revocation (12).
  m.resume([record(7, 12), record(5), record(1), record(6)], 12);
  m.offer([entry(12), entry(13)], 14);
  await m.idle();
  assert.deepEqual(log, ['records 5,6', 'records 7', 'entries 12,13']);
  assert.deepEqual(marks, [12, 13, 14]);
  assert.equal(m.dropped, 1);
});

test('stop() aborts the write in progress and the retry pause, reports nothing written, and leaves the batch queued', async () => {
  const cases: Array<[string, (signal: AbortSignal | undefined) => Promise<void>]> = [
    // A sink that writes until told to stop (the Kubernetes sink stops between objects).
    ['during a write', (signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('stopped')), { once: true }))],
    // A sink that fails: the materializer waits a minute before the retry.
    ['during the retry pause', () => Promise.reject(new Error('503'))],
  ];
  for (const [name, applyMany] of cases) {
    const marks: number[] = [];
    let calls = 0;
    const m = new Materializer({ sink: { applyMany: (_es, signal) => { calls++; return applyMany(signal); }, restore: unused }, budget: 100, log: quiet, retryMs: 60_000, onWritten: (n) => marks.push(n) });
    m.offer([entry(0), entry(1)], 2);
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const stopped = await Promise.race([m.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2000))]);
    assert.ok(stopped && Date.now() - t0 < 1000, `${name}: stop() took ${Date.now() - t0} ms`);
    assert.deepEqual([marks, calls, m.busy], [[], 1, false], name);
  }
});

test('resuming no records still sets the floor: a restarted process evicts and repairs from the earlier one\'s floor, not from 0', async () => {
  const m = new Materializer({ sink: { applyMany: () => Promise.resolve(), restore: unused }, budget: 10_000, log: quiet });
  assert.equal(m.floor, 0);
  // Chaos trial 39: the restarted partner-a had written everything (mark = tree size 12,050).
  m.resume([], 12_050);
  assert.equal(m.floor, 2_050);
  assert.equal(m.busy, false, 'nothing to write');
  await m.idle();
});
