import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { HeadWatch } from './status.ts';

const head = (timestamp: string, treeSize = 5): SignedTreeHead => ({ treeSize, rootHash: 'ab'.repeat(32), timestamp, logId: 'test-log', signature: 's' });
const LIMIT = 300_000;

test('HeadFresh: the condition names the head, so it only changes when the head or its state does (no status write every sync period)', () => {
  const w = new HeadWatch();
  assert.equal(w.check(new Date('2026-12-06T12:00:00Z'), LIMIT).condition.reason, 'NoHead');
  w.observe(head('2026-12-06T12:00:00Z'), new Date('2026-12-06T12:00:01Z'));
  const at = (s: string): ReturnType<HeadWatch['check']> => w.check(new Date(s), LIMIT);
  const a = at('2026-12-06T12:00:02Z');
  const b = at('2026-12-06T12:03:00Z');
  assert.deepEqual([a.condition.status, a.condition.reason], ['True', 'Fresh']);
  assert.deepEqual(b.condition, a.condition, 'two sync periods with the same head give the same condition');
  assert.deepEqual([a.ageSeconds, b.ageSeconds], [2, 180], 'the age goes to the gauge');
  const stale1 = at('2026-12-06T12:06:00Z');
  const stale2 = at('2026-12-06T12:09:00Z');
  assert.deepEqual([stale1.condition.status, stale1.condition.reason], ['False', 'StaleHead']);
  assert.deepEqual(stale2.condition, stale1.condition);
  w.observe(head('2026-12-06T12:09:30Z', 6), new Date('2026-12-06T12:09:31Z'));
  const fresh = at('2026-12-06T12:09:40Z');
  assert.equal(fresh.condition.reason, 'Fresh');
  assert.notDeepEqual(fresh.condition, a.condition, 'a new head is a new message');
});

test('HeadFresh: a head dated ahead of this clock is reported, and does not replace the newest', () => {
  const w = new HeadWatch();
  w.observe(head('2026-12-06T12:00:00Z'), new Date('2026-12-06T12:00:01Z'));
  w.observe(head('2026-12-06T13:00:00Z', 9), new Date('2026-12-06T12:00:02Z'));
  const c = w.check(new Date('2026-12-06T12:00:03Z'), LIMIT);
  assert.deepEqual([c.condition.status, c.condition.reason], ['False', 'FutureHead']);
  assert.equal(c.ageSeconds, 3);
});
