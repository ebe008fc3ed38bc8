/**
 * The missing-decision check at unit level (the censoring sequencer on real parts is in
 * e2e/integration/attacks-censor.test.ts): which rounds are due, which evidence a missing one
 * carries, and that logged decisions (ADD or REJECT) and undue rounds raise nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Vote } from '../../domain/quorum.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import { DecisionWatch, deadlineOf, roundKey, type AppliedHead } from './decisions.ts';

const T0 = Date.parse('2026-12-07T00:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();
const GRACE = 60_000;
const WINDOW = { opensAt: iso(0), closesAt: iso(600_000) };

function round(digest: string, kind: PendingRound['kind'] = 'add'): PendingRound {
  return { kind, indicator: { type: 'domain', value: `${digest}.example` }, indicatorJson: '{}', digest, subject: `s-${digest}`, proposerId: 'bravo', signature: 'sig', window: WINDOW };
}
const vote = (decision: Vote['decision']): Vote => ({ partnerId: 'alpha', digest: 's', decision, signedAt: iso(0), signature: 'x' });
const result = (status: VoteResult['status'], logIndex?: number): VoteResult => ({ status, approvals: 1, rejections: 0, required: 2, ...(logIndex !== undefined ? { logIndex } : {}) });
const head = (ms: number, treeSize = 5): AppliedHead => ({ treeSize, timestamp: iso(ms) });

test('missing decisions: due rounds without an ADD or REJECT entry are reported once, with their evidence', async () => {
  const cases: Array<{ name: string; kind?: PendingRound['kind']; answer: VoteResult; logged: boolean; at: number; want: string[] }> = [
    { name: 'answered approved, logged as ADD', answer: result('approved', 3), logged: true, at: 10 * GRACE, want: [] },
    { name: 'answered rejected, logged as REJECT', answer: result('rejected', 3), logged: true, at: 10 * GRACE, want: [] },
    { name: 'counted, decided later by others, logged', answer: result('counted'), logged: true, at: 600_000 + 2 * GRACE, want: [] },
    { name: 'answered approved, not logged, head past the grace: censorship', answer: result('approved', 3), logged: false, at: GRACE + 1, want: ['acknowledged'] },
    { name: 'answered rejected, not logged: censorship of a rejection', answer: result('rejected', 4), logged: false, at: GRACE + 1, want: ['acknowledged'] },
    { name: 'answered approved, not logged, head within the grace: not yet', answer: result('approved', 3), logged: false, at: GRACE - 1, want: [] },
    { name: 'counted, not logged, head before the window closed plus grace: not yet', answer: result('counted'), logged: false, at: 600_000 + GRACE - 1, want: [] },
    { name: 'counted, not logged, window closed plus grace: expired or withheld', answer: result('counted'), logged: false, at: 600_000 + GRACE + 1, want: ['unacknowledged'] },
    { name: 'a REVOKE round is never watched (rejected revocations are not logged)', kind: 'revoke', answer: result('rejected'), logged: false, at: 10 * 600_000, want: [] },
    { name: 'a duplicate vote is not a new round', answer: result('duplicate'), logged: false, at: 10 * 600_000, want: [] },
  ];
  for (const c of cases) {
    const r = round('d1', c.kind);
    const asked: string[][] = [];
    const watch = new DecisionWatch({ graceMs: GRACE, lookup: (rounds) => {
      asked.push(rounds.map((x) => roundKey(x.digest, x.opensAt)));
      return Promise.resolve(new Set(c.logged ? [roundKey('d1', WINDOW.opensAt)] : []));
    } });
    watch.voted(r, vote('approve'), c.answer, new Date(T0));
    const found = await watch.check(head(c.at));
    assert.deepEqual(found.map((m) => m.evidence), c.want, c.name);
    for (const m of found) assert.match(m.message, /docs\/trust-model\.md "Missing decisions"/, c.name);
    // Reported (or found logged) once: the next check asks nothing.
    if (asked.length > 0) assert.deepEqual(await watch.check(head(c.at + 1)), [], c.name);
    assert.ok(asked.length <= 1, c.name);
  }
});

test('messages say what a missing decision means and what to do', async () => {
  const watch = new DecisionWatch({ graceMs: GRACE, lookup: () => Promise.resolve(new Set()) });
  watch.voted(round('a'), vote('reject'), result('rejected', 7), new Date(T0));
  watch.voted(round('b'), vote('approve'), result('counted'), new Date(T0));
  const [acked, open] = await watch.check(head(600_000 + GRACE + 1, 9));
  assert.match(acked?.message ?? '', /voted reject on was answered "rejected" by the sequencer \(logged at index 7, it said\), but its tree head of .* \(size 9\) carries no REJECT entry for it: the sequencer withholds a decision it made \(censorship\)/);
  assert.match(open?.message ?? '', /either too few partners voted \(an expired round is not logged\) or the sequencer withheld the decision\. Ask the partners who voted/);
});

test('no head, or nothing due: no lookup; the tracked set is bounded', async () => {
  let lookups = 0;
  const watch = new DecisionWatch({ graceMs: GRACE, maxTracked: 3, lookup: () => {
    lookups += 1;
    return Promise.resolve(new Set());
  } });
  for (const d of ['a', 'b', 'c', 'd', 'e']) watch.voted(round(d), vote('approve'), result('approved', 1), new Date(T0));
  assert.equal(watch.size, 3);
  assert.deepEqual(await watch.check(undefined), []);
  assert.deepEqual(await watch.check(head(GRACE - 1)), []);
  assert.equal(lookups, 0);
  assert.deepEqual((await watch.check(head(GRACE + 1))).map((m) => m.round.digest), ['c', 'd', 'e']);
  assert.equal(deadlineOf({ digest: 'x', indicator: 'x', window: WINDOW, decision: 'approve', answeredAt: iso(5), status: 'counted' }, GRACE), T0 + 600_000 + GRACE);
});
