/**
 * The convergence wait reads the costly log only when the cheap reads say every partner is at the
 * head, at most once per gap; it converges on exactly the conditions the verdict needs, and says
 * what it still waits for.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { behind, unlogged, type Expectation, type PartnerCursor, type SequencerHead, type SequencerState } from './check.ts';
import { waitForConvergence, type ConvergenceReads, type WaitTiming } from './wait.ts';

const EXP: Expectation = { indicators: new Map([['d1', {} as Indicator], ['d2', {} as Indicator]]), revoked: new Set(['d1']) };
const ALL_LOGGED: SequencerState['entries'] = [{ index: 10, digest: 'd1', kind: 'add' }, { index: 11, digest: 'd2', kind: 'add' }, { index: 12, digest: 'd1', kind: 'revoke' }];

function cursor(id: string, at: number, halted?: PartnerCursor['halted']): PartnerCursor {
  return { id, treeSize: at, rootHash: `r${at}`, nextIndex: at, ...(halted !== undefined ? { halted } : {}) };
}

/** A network scripted poll by poll: `states[i]` is what poll i reads (the last repeats). */
function scripted(states: Array<{ head: SequencerHead; cursors: PartnerCursor[]; entries: SequencerState['entries'] } | Error>) {
  let poll = -1;
  let logReads = 0;
  const at = () => states[Math.min(poll, states.length - 1)]!;
  const reads: ConvergenceReads = {
    head: () => {
      poll++;
      const s = at();
      return s instanceof Error ? Promise.reject(s) : Promise.resolve(s.head);
    },
    cursors: () => Promise.resolve((at() as Exclude<ReturnType<typeof at>, Error>).cursors),
    log: () => {
      logReads++;
      return Promise.resolve({ entries: (at() as Exclude<ReturnType<typeof at>, Error>).entries });
    },
  };
  return { reads, logReads: () => logReads, polls: () => poll + 1 };
}

function fakeTime(gapMs = 15_000): WaitTiming & { t: number } {
  const clock = { t: 0, now: () => clock.t, sleep: (ms: number) => { clock.t += ms; return Promise.resolve(); }, pollMs: 2000, logReadGapMs: gapMs, progressMs: 15_000 };
  return clock;
}

describe('behind and unlogged: what the wait still waits for', () => {
  const head = { treeSize: 13, rootHash: 'r13', pending: 0 };
  const rows: Array<[string, SequencerHead, PartnerCursor[], string[]]> = [
    ['everyone at the head', head, [cursor('a', 13), cursor('b', 13)], []],
    ['open rounds', { ...head, pending: 2 }, [cursor('a', 13)], ['2 open rounds at the sequencer']],
    ['a partner short of the head', head, [cursor('a', 13), cursor('b', 11)], ['b at 11/11 of 13']],
    ['a partner that has the head but has not applied it', head, [{ ...cursor('a', 13), nextIndex: 12 }], ['a at 12/13 of 13']],
    ['a halted partner, whatever its index', head, [cursor('a', 13, { reason: 'Fork', message: 'm' })], ['a halted: Fork']],
  ];
  for (const [name, h, cs, want] of rows) it(name, () => assert.deepEqual(behind(h, cs), want));
  it('nothing logged yet', () => assert.deepEqual(unlogged(EXP, { entries: [] }), ['2 of 2 indicators not admitted', '1 of 1 approved revocations not in the log']));
  it('admitted, the revocation not yet', () => assert.deepEqual(unlogged(EXP, { entries: ALL_LOGGED.slice(0, 2) }), ['1 of 1 approved revocations not in the log']));
  it('everything logged', () => assert.deepEqual(unlogged(EXP, { entries: ALL_LOGGED }), []));
});

describe('waitForConvergence', () => {
  const head = { treeSize: 13, rootHash: 'r13', pending: 0 };
  const atHead = { head, cursors: [cursor('a', 13), cursor('b', 13)], entries: ALL_LOGGED };
  const lagging = { ...atHead, cursors: [cursor('a', 13), cursor('b', 9)] };

  it('does not read the log while a partner lags, then converges on the first read once all are at the head', async () => {
    const net = scripted([...Array<typeof lagging>(30).fill(lagging), atHead]);
    const lines: string[] = [];
    const r = await waitForConvergence(net.reads, EXP, 1_000_000, (m) => lines.push(m), fakeTime());
    assert.equal(r.done, true);
    assert.equal(net.polls(), 31);
    assert.equal(net.logReads(), 1, 'one log read, at the poll where every partner was at the head');
    assert.match(lines[0]!, /the log not read yet.*b at 9\/9 of 13/);
  });

  it('re-reads a log that lacked entries no sooner than the gap, and converges when it holds them', async () => {
    const missing = { ...atHead, entries: ALL_LOGGED.slice(0, 1) };
    const net = scripted([...Array<typeof missing>(20).fill(missing), atHead]);
    const lines: string[] = [];
    const r = await waitForConvergence(net.reads, EXP, 1_000_000, (m) => lines.push(m), fakeTime(15_000));
    assert.equal(r.done, true);
    // Polls every 2 s: reads at polls 1, 9, 17 (16 s apart), then 25 finds everything.
    assert.equal(net.logReads(), 4);
    assert.match(lines[0]!, /1 of 2 indicators not admitted; 1 of 1 approved revocations not in the log/);
  });

  it('a read that fails is reported and the wait goes on', async () => {
    const net = scripted([new Error('connection refused'), atHead]);
    const lines: string[] = [];
    const r = await waitForConvergence(net.reads, EXP, 1_000_000, (m) => lines.push(m), fakeTime());
    assert.equal(r.done, true);
    assert.match(lines[0]!, /cannot read state: connection refused/);
  });

  it('at the deadline: not done, and says what it waited for', async () => {
    const net = scripted([lagging]);
    const r = await waitForConvergence(net.reads, EXP, 60_000, () => undefined, fakeTime());
    assert.equal(r.done, false);
    assert.equal(net.logReads(), 0);
    assert.deepEqual(r.waiting, ['the log not read yet (read once every partner is at its head)', 'b at 9/9 of 13']);
    assert.equal(r.seconds, 60);
  });

  it('never converges with a partner at the head of a log that lacks an expectation', async () => {
    const net = scripted([{ ...atHead, entries: [] }]);
    const r = await waitForConvergence(net.reads, EXP, 120_000, () => undefined, fakeTime());
    assert.equal(r.done, false);
    assert.deepEqual(r.waiting, ['2 of 2 indicators not admitted', '1 of 1 approved revocations not in the log']);
  });
});
