import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../log.ts';
import { FAILURE_REMINDER_MS, RepeatedFailureLog } from './repeatlog.ts';

function logged(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
  return { log: createLogger(out, 'info'), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('a peer unreachable for ten minutes at one failure a second: one warning, a reminder every five minutes, one line when it answers again', () => {
  const { log, lines } = logged();
  let now = 0;
  const r = new RepeatedFailureLog(log, () => now);
  for (let s = 0; s < 600; s++, now += 1000) r.failed('gossip partner-b', 'peer-unavailable', 'exchange gossip failed; retrying next period', { peer: 'partner-b' });
  r.recovered('gossip partner-b', 'exchange gossip works again', { peer: 'partner-b' });
  const got = lines();
  assert.deepEqual(got.map((l) => [l['level'], l['reminder'] ?? false]), [['warn', false], ['warn', true], ['info', false]], JSON.stringify(got));
  assert.equal(got[1]!['failuresSinceLastLine'], FAILURE_REMINDER_MS / 1000);
  assert.equal(got[2]!['failedForMs'], 600_000);
  assert.equal(got[2]!['cause'], 'peer-unavailable');
});

test('a new cause is logged at once; peers and steps are kept apart; a step that never failed logs no recovery', () => {
  const { log, lines } = logged();
  let now = 0;
  const r = new RepeatedFailureLog(log, () => now);
  const fail = (key: string, cause: string): void => r.failed(key, cause, `${key} failed`, {});
  fail('gossip partner-b', 'peer-unavailable');
  fail('gossip partner-c', 'peer-unavailable');
  now += 1000;
  fail('gossip partner-b', 'peer-unavailable');
  fail('gossip partner-b', 'certificate-invalid');
  fail('voting', 'sequencer-unavailable');
  r.recovered('drift repair', 'drift repair works again');
  assert.deepEqual(lines().map((l) => [l['msg'], l['previousCause'] ?? '']), [
    ['gossip partner-b failed', ''], ['gossip partner-c failed', ''], ['gossip partner-b failed', 'peer-unavailable'], ['voting failed', ''],
  ]);
  // After recovering, the same cause is news again.
  r.recovered('gossip partner-b', 'back');
  fail('gossip partner-b', 'certificate-invalid');
  assert.equal(lines().filter((l) => l['msg'] === 'gossip partner-b failed').length, 3);
});
