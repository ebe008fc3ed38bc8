import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKey } from '../domain/signature.ts';
import { verifyProposal } from '../domain/entry.ts';
import { verifySignedProposal, type ProposalItem } from '../domain/proposalbatch.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';
import { keySigner, signProposalBatchRequest, signProposalRequest } from './signer.ts';

const key = SigningKey.generate();
const items: ProposalItem[] = [
  { indicator: { type: 'domain', value: 'a.example.net' } },
  { indicator: { type: 'ipv4', value: '192.0.2.7' }, meta: { confidence: 80, tlp: 'amber' } },
  { indicator: { type: 'domain', value: 'c.example.net' }, meta: { labels: ['c2'] } },
];

describe('signProposalBatchRequest (the operator signing a Feed run\'s batch over IPC)', () => {
  test('each proof verifies alone, for exactly its own indicator and metadata', () => {
    const r = signProposalBatchRequest(key, { items }, 8);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.proofs.length, items.length);
    assert.equal(new Set(r.proofs.map((p) => p.signature)).size, 1, 'one signature for the batch');
    r.proofs.forEach((p, i) => {
      const it = items[i]!;
      assert.ok(verifySignedProposal(key.publicKey, 'add', it.indicator, p, it.meta), `item ${i} verifies`);
      assert.equal(verifyProposal(key.publicKey, 'add', it.indicator, p.signature, it.meta), false, 'it is no single proposal signature');
    });
  });

  // A requester that swaps a leaf after signing gets a proof that verifies for nothing it changed.
  const swaps: Array<[string, (it: ProposalItem) => ProposalItem]> = [
    ['another value', (it) => ({ ...it, indicator: { ...it.indicator, value: '192.0.2.8' } })],
    ['other metadata', (it) => ({ ...it, meta: { confidence: 100 } })],
    ['metadata dropped', (it) => ({ indicator: it.indicator })],
  ];
  for (const [name, swap] of swaps) {
    test(`a leaf tampered after signing (${name}) does not verify`, () => {
      const r = signProposalBatchRequest(key, { items }, 8);
      assert.ok(r.ok);
      const t = swap(items[1]!);
      assert.equal(verifySignedProposal(key.publicKey, 'add', t.indicator, r.proofs[1]!, t.meta), false);
    });
  }

  const refused: Array<[string, unknown, number, RegExp]> = [
    ['a batch over the operator\'s size', items, 2, /refusing a batch of 3 proposals: this operator signs at most 2 at once \(--proposal-batch-size\); split it/],
    ['a batch over the protocol cap', Array.from({ length: MAX_VOTE_BATCH + 1 }, () => items[0]), MAX_VOTE_BATCH + 10, new RegExp(`at most ${MAX_VOTE_BATCH} at once`)],
    ['an operator that signs single proposals only', items, 0, /signs single proposals only \(--proposal-batch-size 0\)/],
    ['an empty batch', [], 8, /needs a non-empty list of items/],
    ['items that are no list', { 0: items[0] }, 8, /needs a non-empty list of items/],
    ['an unnormalized leaf', [items[0], { indicator: { type: 'domain', value: 'B.Example.NET' } }], 8, /batch item 1 of 2: refusing to sign domain "B.Example.NET": it is not a normalized indicator; nothing in the batch was signed/],
    ['a leaf of an unknown type', [{ indicator: { type: 'tree-head', value: 'x' } }], 8, /batch item 0 of 1: a proposal signature needs an indicator \{type, value\} of a known type/],
    ['a leaf with invalid metadata', [items[0], items[1], { indicator: items[2]!.indicator, meta: { confidence: 900 } }], 8, /batch item 2 of 3: refusing to sign: .*confidence/],
    ['a leaf with unknown metadata members', [{ indicator: items[0]!.indicator, meta: { root: 'ab' } }], 8, /batch item 0 of 1: refusing to sign: meta has unknown member\(s\) "root"/],
    ['a leaf that is a bare string (a precomputed text)', ['{"type":"domain","value":"a.example.net"}'], 8, /batch item 0 of 1: an item must be an object/],
  ];
  for (const [name, list, cap, re] of refused) {
    test(`refuses ${name}, with a clear error`, () => {
      const r = signProposalBatchRequest(key, { items: list }, cap);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.message, re);
    });
  }
});

describe('signProposalRequest keeps its checks', () => {
  const cases: Array<[string, { indicator: unknown; meta?: unknown }, RegExp | undefined]> = [
    ['a normalized indicator with metadata', { indicator: items[1]!.indicator, meta: items[1]!.meta }, undefined],
    ['an unnormalized one', { indicator: { type: 'domain', value: 'A.example.net' } }, /not a normalized indicator/],
    ['bad metadata', { indicator: items[0]!.indicator, meta: {} }, /meta has no members/],
  ];
  for (const [name, req, re] of cases) {
    test(name, () => {
      const r = signProposalRequest(key, req);
      if (re === undefined) assert.ok(r.ok && verifyProposal(key.publicKey, 'add', items[1]!.indicator, r.signature, items[1]!.meta));
      else assert.match(r.ok ? '' : r.message, re);
    });
  }
});

test('keySigner with a batch size signs batches that verify; without one it has no signBatch', async () => {
  assert.equal(keySigner(key).signBatch, undefined);
  const s = keySigner(key, 4);
  const proofs = await s.signBatch!(items);
  assert.ok(proofs.every((p, i) => verifySignedProposal(key.publicKey, 'add', items[i]!.indicator, p, items[i]!.meta)));
});
