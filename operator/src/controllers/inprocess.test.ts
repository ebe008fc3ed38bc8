import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SigningKey } from '../domain/signature.ts';
import { verifySignedProposal, type ProposalProof } from '../domain/proposalbatch.ts';
import { BATCH_PROBE_ITEMS } from './testdata/batchprobe.ts';
import { LOG_PROBE_LINE } from './testdata/logprobe.ts';
import { PassThrough } from 'node:stream';
import { InProcessExecutor } from './inprocess.ts';
import { feed } from './fixtures.ts';
import type { Feed } from '../api/types.ts';

const now = () => new Date('2026-12-07T04:00:00Z');

async function findings(ex: InProcessExecutor, f: Feed): Promise<string[]> {
  await ex.start(f, 'r1');
  for (;;) {
    const s = await ex.status(f, { runId: 'r1' });
    if (s.phase === 'Running') {
      await sleep(10);
      continue;
    }
    assert.equal(s.phase, 'Succeeded', s.phase === 'Failed' || s.phase === 'Lost' ? s.message : '');
    return Object.keys(s.phase === 'Succeeded' ? s.report?.rejected ?? {} : {});
  }
}

function finding(all: readonly string[], tag: string): string {
  const f = all.find((x) => x.startsWith(`${tag}:`) || x.startsWith(`${tag}-refused:`));
  assert.ok(f !== undefined, `no ${tag} finding in ${all.join(' | ')}`);
  return f;
}

describe('InProcessExecutor batch proposals over IPC (protocol v2, --proposal-batch-size)', () => {
  const module = new URL('./testdata/batchprobe.ts', import.meta.url);

  // [name, proposalBatchSize, what the child is offered and what each of its requests gets]
  const cases: Array<[string, number, { size: string; proofs: RegExp | 'verify'; tampered?: RegExp; oversize?: RegExp }]> = [
    ['a batch size of 4: good batches are signed, a tampered leaf and an oversize batch are refused', 4, {
      size: 'batch-size:4',
      proofs: 'verify',
      tampered: /^tampered-refused:the operator refused to sign: batch item 1 of 2: refusing to sign domain "TWO\.example\.net": it is not a normalized indicator; nothing in the batch was signed$/,
      oversize: /^oversize-refused:the operator refused to sign: refusing a batch of 5 proposals: this operator signs at most 4 at once \(--proposal-batch-size\); split it$/,
    }],
    ['no batch size (the default): the child gets no batch signer and single proposals stay v1', 0, { size: 'batch-size:0', proofs: /^batch-signer:absent$/ }],
  ];
  for (const [name, size, want] of cases) {
    test(name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'threatmesh-key-'));
      const key = SigningKey.generate();
      const keyPath = join(dir, 'private.pem');
      await writeFile(keyPath, key.toPem(), { mode: 0o600 });
      const ex = new InProcessExecutor({ module, context: { partnerId: 'acme', signingKeyPath: keyPath }, proposalBatchSize: size }, now);
      try {
        const all = await findings(ex, feed('batch-probe'));
        assert.ok(all.includes(want.size), all.join(' | '));
        if (want.proofs !== 'verify') {
          assert.match(finding(all, 'batch-signer'), want.proofs);
          return;
        }
        const proofs = JSON.parse(finding(all, 'proofs').slice('proofs:'.length)) as ProposalProof[];
        assert.equal(proofs.length, BATCH_PROBE_ITEMS.length);
        proofs.forEach((p, i) => assert.ok(verifySignedProposal(key.publicKey, 'add', BATCH_PROBE_ITEMS[i]!.indicator, p, BATCH_PROBE_ITEMS[i]!.meta), `proof ${i} verifies under the operator's key`));
        assert.match(finding(all, 'tampered'), want.tampered!);
        assert.match(finding(all, 'oversize'), want.oversize!);
      } finally {
        await ex.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

test('a run\'s log lines go to the configured output, not to the operator\'s terminal (threatmesh up draws there)', async () => {
  const out = new PassThrough();
  let seen = '';
  out.setEncoding('utf8').on('data', (d: string) => { seen += d; });
  const ex = new InProcessExecutor({ module: new URL('./testdata/logprobe.ts', import.meta.url), output: out }, now);
  try {
    await findings(ex, feed('log-probe'));
    await sleep(50);
    assert.equal(seen, LOG_PROBE_LINE);
  } finally {
    await ex.close();
  }
});

test('a notice a run gave is handed to the operator\'s next runs (once per operator process, though each run is a child process), and stays out of the Feed\'s report', async () => {
  const ex = new InProcessExecutor({ module: new URL('./testdata/noticeprobe.ts', import.meta.url) }, now);
  try {
    const f = feed('notice-probe');
    const firsts: string[][] = [];
    for (const runId of ['r1', 'r2', 'r3']) {
      await ex.start(f, runId);
      let s = await ex.status(f, { runId });
      while (s.phase === 'Running') {
        await sleep(10);
        s = await ex.status(f, { runId });
      }
      assert.equal(s.phase, 'Succeeded', s.phase === 'Failed' || s.phase === 'Lost' ? s.message : '');
      const report = s.phase === 'Succeeded' ? s.report : undefined;
      assert.equal(report !== undefined && 'notices' in report, false, 'the notices are the executor\'s, not the Feed status\'s');
      firsts.push(Object.keys(report?.rejected ?? {}));
    }
    assert.deepEqual(firsts, [['first:true'], ['first:false'], ['first:false']]);
  } finally {
    await ex.close();
  }
});
