import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDemoRound, type DemoEvent } from './network.ts';

const at = new Date('2026-11-25T12:00:00Z');

test('demo round approves valid indicators once, rejects bad ones with reasons, and every proof verifies', () => {
  const events = runDemoRound(['# comment', '10.0.0.1', 'Example.COM.', 'example.com', '010.1.1.1', 'bad value!', ''], 3, at);
  const by = (e: DemoEvent['event']) => events.filter((x) => x.event === e);
  assert.deepEqual(by('approved').map((e) => e.event === 'approved' && [e.type, e.value, e.logIndex, e.approvals, e.required]), [
    ['ipv4', '10.0.0.1', 0, 3, 3],
    ['domain', 'example.com', 1, 3, 3],
  ]);
  assert.deepEqual(by('duplicate').map((e) => e.event === 'duplicate' && e.line), [4]);
  assert.deepEqual(by('rejected').map((e) => e.event === 'rejected' && [e.line, e.reason]), [[5, 'ambiguous-ipv4'], [6, 'invalid-domain']]);
  const head = events.at(-1);
  assert.ok(head?.event === 'tree-head');
  assert.equal(head.treeSize, 2);
  assert.equal(head.signatureValid, true);
  assert.equal(head.inclusionProofsValid, 2);
});

test('quorum with 4 partners needs 3 approvals', () => {
  const events = runDemoRound(['8.8.4.4'], 4, at);
  const approved = events.find((e) => e.event === 'approved');
  assert.ok(approved?.event === 'approved');
  assert.equal(approved.required, 3);
});
