import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../log.ts';
import { KubeHttpClient } from './kube.ts';
import { ApiError, type KubeReader, type KubeWriter } from './client.ts';
import { ManualClock } from './clock.ts';
import { LeaderElector, microTime, type Lease } from './leader.ts';
import type { KubeObject, ResourceRef } from './types.ts';

const log = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const client = new KubeHttpClient({ server: 'https://127.0.0.1:1', source: 'unused' });
const base = { client, log, name: 'l', namespace: 'ns', identity: 'me', onStartedLeading: () => {}, onStoppedLeading: () => {} };

describe('LeaderElector settings', () => {
  const bad = [
    { leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000, err: /lease duration .* greater than the renew deadline/ },
    { leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000, err: /renew deadline .* greater than 1\.2 × retry period/ },
  ];
  for (const b of bad) {
    test(`rejects ${b.leaseDurationMs}/${b.renewDeadlineMs}/${b.retryPeriodMs}`, () => {
      assert.throws(() => new LeaderElector({ ...base, ...b }), b.err);
    });
  }
  test('rejects an empty identity', () => {
    assert.throws(() => new LeaderElector({ ...base, identity: '' }), /identity/);
  });
  test('starts as a non-leader', () => {
    const le = new LeaderElector(base);
    assert.equal(le.isLeader(), false);
    assert.equal(le.currentLeader(), '');
  });
});

describe('microTime', () => {
  test('writes microseconds like metav1.MicroTime', () => {
    assert.equal(microTime(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  });
});

/** One Lease in memory, with resourceVersion checks as the API server does them (a unit-test stand-in; the integration tests run a real kube-apiserver). */
function leaseStore(): KubeReader & KubeWriter {
  let lease: Lease | undefined;
  let rv = 0;
  const put = (obj: Lease): Lease => {
    lease = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
    return structuredClone(lease);
  };
  const fail = (): never => { throw new Error('not used by the elector'); };
  return {
    get: <T extends KubeObject>() => Promise.resolve(lease === undefined ? undefined : structuredClone(lease) as unknown as T),
    create: <T extends KubeObject>(_ref: ResourceRef, obj: T) => (lease !== undefined ? Promise.reject(new ApiError(409, 'AlreadyExists', 'exists')) : Promise.resolve(put(obj as unknown as Lease) as unknown as T)),
    update: <T extends KubeObject>(_ref: ResourceRef, obj: T) => (obj.metadata.resourceVersion !== lease?.metadata.resourceVersion ? Promise.reject(new ApiError(409, 'Conflict', 'stale')) : Promise.resolve(put(obj as unknown as Lease) as unknown as T)),
    list: fail, watch: fail, patch: fail, apply: fail, delete: fail,
  };
}

describe('LeaderElector and a wall clock that is set', () => {
  for (const stepMs of [30_000, -30_000]) {
    test(`a leader that renews on time keeps the Lease when its wall clock is set ${stepMs > 0 ? 'forward' : 'back'} 30 s (deadlines are monotonic)`, async () => {
      const clock = new ManualClock(Date.parse('2026-12-07T15:00:00Z'));
      const events: string[] = [];
      const le = new LeaderElector({ ...base, client: leaseStore(), clock, random: () => 0, onStartedLeading: () => events.push('started'), onStoppedLeading: () => events.push('stopped') });
      le.start();
      await clock.advance(0);
      assert.deepEqual(events, ['started']);
      await clock.advance(1000);
      clock.stepWall(stepMs);
      // Two renew deadlines of renewals, each on time by the monotonic clock.
      for (let i = 0; i < 10; i++) await clock.advance(2000);
      assert.deepEqual(events, ['started'], 'still leading');
      assert.equal(le.isLeader(), true);
      await le.stop({ release: false });
    });
  }

  test('a leader whose renewals fail for the renew deadline steps down (the deadline still holds)', async () => {
    const clock = new ManualClock(0);
    const store = leaseStore();
    let broken = false;
    const flaky: KubeReader & KubeWriter = { ...store, get: (ref, name, ns) => (broken ? Promise.reject(new Error('connect ECONNREFUSED')) : store.get(ref, name, ns)) };
    const events: string[] = [];
    const le = new LeaderElector({ ...base, client: flaky, clock, random: () => 0, onStartedLeading: () => events.push('started'), onStoppedLeading: () => events.push('stopped') });
    le.start();
    await clock.advance(0);
    broken = true;
    for (let i = 0; i < 6; i++) await clock.advance(2000);
    assert.deepEqual(events, ['started', 'stopped']);
    await le.stop();
  });
});
