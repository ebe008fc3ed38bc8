import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../log.ts';
import { KubeHttpClient } from './kube.ts';
import { LeaderElector, microTime } from './leader.ts';

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
