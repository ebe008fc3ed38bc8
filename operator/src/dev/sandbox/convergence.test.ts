import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { convergedSummary, LogTally, notConverged, renderNetwork, type NetworkView, type PartnerView } from './convergence.ts';
import type { LogEntryKind } from '../../domain/entry.ts';

const ROOT = 'ab'.repeat(32);
const partner = (name: string, over: Partial<PartnerView> = {}): PartnerView => ({
  name, readable: true, running: true, treeSize: 5, rootHash: ROOT, lagEntries: 0, lagSeconds: 0, replicating: 'True', phases: { Approved: 5 }, ...over,
});
const view = (over: Partial<NetworkView> = {}): NetworkView => ({
  sequencer: { treeSize: 5, rootHash: ROOT, pending: 0 }, partners: [partner('a'), partner('b'), partner('c')], feedDone: true, ...over,
});

describe('notConverged', () => {
  test('a network where every partner holds the sequencer tree has converged', () => {
    assert.deepEqual(notConverged(view()), []);
  });

  const cases: Array<[string, Partial<NetworkView>, RegExp]> = [
    ['feed not run', { feedDone: false }, /first ingestion run/],
    ['sequencer silent', { sequencer: undefined }, /sequencer to answer/],
    ['open rounds', { sequencer: { treeSize: 5, rootHash: ROOT, pending: 2 } }, /2 open voting rounds/],
    ['empty log', { sequencer: { treeSize: 0, rootHash: ROOT, pending: 0 }, partners: [partner('a', { treeSize: 0, phases: {} })] }, /first admitted indicator/],
    ['partner behind', { partners: [partner('a'), partner('b', { treeSize: 3 })] }, /b: tree size 3 of 5/],
    ['partner on another root', { partners: [partner('a', { rootHash: 'cd'.repeat(32) })] }, /a: root cdcdcdcdcdcd differs/],
    ['objects missing', { partners: [partner('a', { phases: { Approved: 4, Proposed: 1 } })] }, /a: 4 of 5 ThreatIndicators Approved/],
    ['proposals not yet forwarded, every count matching (the first-run journey on 2026-12-07: converged at 143 of 200)', { partners: [partner('a', { phases: { Approved: 5, Proposed: 57 } })] }, /a: 57 ThreatIndicators still Proposed/],
    ['entries verified but not applied', { partners: [partner('a', { lagEntries: 7 })] }, /a: 7 entries of its verified tree not yet applied/],
    ['halted', { partners: [partner('a', { replicating: 'False fork' })] }, /a: replication halted \(False fork\)/],
    ['operator stopped', { partners: [partner('a', { running: false })] }, /a: its operator is stopped/],
    ['cluster down', { partners: [partner('a', { readable: false })] }, /a: its cluster does not answer/],
  ];
  for (const [name, over, want] of cases) {
    test(name, () => {
      const why = notConverged(view(over));
      assert.ok(why.some((w) => want.test(w)), `${JSON.stringify(why)} should match ${String(want)}`);
    });
  }

  test('revocations: the expected Approved count is the number of active entries', () => {
    assert.deepEqual(notConverged(view({ partners: [partner('a', { phases: { Approved: 4, Revoked: 1 } })] }), 4), []);
  });

  test('rejections: the sequencer\'s counted active entries set the expected Approved count', () => {
    const seq = { treeSize: 5, rootHash: ROOT, pending: 0, activeEntries: 3 };
    const three = partner('a', { phases: { Approved: 3 } });
    assert.deepEqual(notConverged(view({ sequencer: seq, partners: [three] })), []);
    assert.ok(notConverged(view({ sequencer: seq, partners: [partner('a')] })).some((w) => /a: 5 of 3 ThreatIndicators Approved/.test(w)));
    // The caller's count still wins (a journey that knows better).
    assert.deepEqual(notConverged(view({ sequencer: seq, partners: [partner('a', { phases: { Approved: 2 } })] }), 2), []);
  });
});

describe('LogTally', () => {
  const cases: Array<[string, Array<[string, LogEntryKind]>, number]> = [
    ['admissions count once each', [['x', 'add'], ['y', 'add']], 2],
    ['a revocation withdraws its admission', [['x', 'add'], ['y', 'add'], ['x', 'revoke']], 1],
    ['a rejection admits nothing', [['x', 'add'], ['y', 'reject'], ['z', 'reject']], 1],
    ['re-admission after a revocation counts again', [['x', 'add'], ['x', 'revoke'], ['x', 'add']], 1],
    ['a rejection after a revocation leaves it inactive', [['x', 'add'], ['x', 'revoke'], ['x', 'reject']], 0],
    ['an admission after a rejection counts', [['x', 'reject'], ['x', 'add']], 1],
  ];
  for (const [name, entries, active] of cases) {
    test(name, () => {
      const t = new LogTally();
      entries.forEach(([digest, kind], i) => t.add(i, digest, kind));
      assert.equal(t.size, entries.length);
      assert.equal(t.active, active);
    });
  }

  test('entries must come in log order, once', () => {
    const t = new LogTally();
    t.add(0, 'x', 'add');
    assert.throws(() => t.add(0, 'x', 'add'), /entry 0 out of order \(expected 1\)/);
    assert.throws(() => t.add(2, 'y', 'add'), /entry 2 out of order/);
    assert.equal(t.active, 1);
  });
});

test('convergedSummary lists each partner with its tree and Approved count', () => {
  assert.deepEqual(convergedSummary(view({ partners: [partner('a'), partner('b', { phases: { Approved: 2 } })] })), {
    partners: [{ name: 'a', treeSize: 5, rootHash: ROOT, indicators: 5 }, { name: 'b', treeSize: 5, rootHash: ROOT, indicators: 2 }],
    sequencer: { treeSize: 5, rootHash: ROOT },
  });
  assert.equal(convergedSummary(view({ sequencer: undefined })), undefined);
});

test('renderNetwork shows the sequencer and every partner on aligned rows', () => {
  const text = renderNetwork(view({ partners: [partner('partner-a'), partner('partner-b', { running: false, readable: false })] }));
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[1] ?? '', /^sequencer\s+serving\s+5\s+abababababab/);
  assert.match(lines[2] ?? '', /^partner-a\s+running\s+5\s+abababababab\s+0 \(0s\)\s+True\s+5 Approved$/);
  assert.match(lines[3] ?? '', /^partner-b\s+stopped.*cluster not answering$/);
  assert.equal(lines[0]?.indexOf('TREE SIZE'), lines[1]?.indexOf('5'));
});
