import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorDigest } from '../domain/canonical.ts';
import { SnapshotBuilder } from './snapshot.ts';
import { BUCKET_MS, Tally } from './tally.ts';

const ind = { type: 'domain' as const, value: 'evil.example' };
const b = new SnapshotBuilder();
b.add({ ...ind, digest: indicatorDigest(ind) });
const snap = b.build();
const ids = Int32Array.of(0);
const at = (s: string): number => Date.parse(s);

test('time window: records outside [start, end) are not counted, and are counted as outside', () => {
  const t = new Tally({ start: at('2024-05-01T12:00:00Z'), end: at('2024-05-01T13:00:00Z') });
  const times = ['2024-05-01T11:59:59.999Z', '2024-05-01T12:00:00Z', '2024-05-01T12:30:00Z', '2024-05-01T13:00:00Z'];
  for (const ts of times) t.record(snap, ids, 1, at(ts), 'zeek:dns');
  const [e] = t.entries();
  assert.equal(e?.count, 2);
  assert.equal(t.outsideWindow, 2);
  assert.equal(new Date(e?.firstSeen ?? 0).toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(new Date(e?.lastSeen ?? 0).toISOString(), '2024-05-01T12:30:00.000Z');
});

test('merge adds counts per hour bucket and keeps the widest first/last seen; a newer snapshot keeps the same entry', () => {
  const a = new Tally();
  const c = new Tally();
  a.record(snap, ids, 1, at('2024-05-01T12:10:00Z'), 'zeek:dns');
  c.record(snap, ids, 1, at('2024-05-01T12:05:00Z'), 'suricata:dns');
  c.record(snap, ids, 1, at('2024-05-01T14:00:00Z'), 'suricata:dns');
  const b2 = new SnapshotBuilder();
  b2.add({ type: 'ipv4', value: '192.0.2.1', digest: indicatorDigest({ type: 'ipv4', value: '192.0.2.1' }) });
  b2.add({ ...ind, digest: indicatorDigest(ind) });
  a.record(b2.build(), Int32Array.of(1), 1, at('2024-05-01T12:20:00Z'), 'zeek:dns');
  a.merge(c);
  const [e] = a.entries();
  assert.equal(a.entries().length, 1);
  assert.equal(e?.count, 4);
  const hour = at('2024-05-01T12:00:00Z');
  assert.deepEqual(e?.buckets.get(hour)?.sources, { 'zeek:dns': 2, 'suricata:dns': 1 });
  assert.equal(e?.buckets.get(hour + 2 * BUCKET_MS)?.count, 1);
  assert.equal(e?.firstSeen, at('2024-05-01T12:05:00Z'));
});
