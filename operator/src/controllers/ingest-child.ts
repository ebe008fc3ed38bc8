/**
 * Child-process entry of the in-process executor (inprocess.ts starts it with `fork`, under the
 * Node permission model): waits for one `run` message, imports the ingestion module, runs it with
 * a signer that asks the parent over IPC, and reports back. It never receives the partner's key
 * and may not read its file. Not imported by anything.
 */
import type { Indicator } from '../domain/indicator.ts';
import type { IndicatorMeta } from '../domain/entry.ts';
import type { ProposalItem, ProposalProof } from '../domain/proposalbatch.ts';
import type { ProposalSigner } from '../feeds/signer.ts';
import type { IngestionFunction } from './executor.ts';
import type { ChildMessage, ParentMessage, RunMessage } from './inprocess.ts';

function send(m: ChildMessage): void {
  process.send?.(m);
}

type Answer = Extract<ParentMessage, { kind: 'signed' | 'batch-signed' }>;

/**
 * A signer that asks the parent, which holds the key, and waits for its answer; with
 * `batchSize` > 0 it also asks for batches of up to that many proposals (protocol v2).
 */
function remoteSigner(batchSize: number): ProposalSigner {
  let next = 0;
  const waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  process.on('message', (m: ParentMessage) => {
    if (m.kind !== 'signed' && m.kind !== 'batch-signed' && m.kind !== 'sign-refused') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.kind === 'sign-refused') w?.reject(new Error(`the operator refused to sign: ${m.message}`));
    else w?.resolve(m);
  });
  const ask = (m: Extract<ChildMessage, { kind: 'sign' | 'sign-batch' }>): Promise<Answer> => new Promise<Answer>((resolve, reject) => {
    waiting.set(m.id, { resolve, reject });
    send(m);
  });
  const sign = async (indicator: Indicator, meta: IndicatorMeta | undefined): Promise<string> => {
    const a = await ask({ kind: 'sign', id: next++, indicator, ...(meta === undefined ? {} : { meta }) });
    if (a.kind !== 'signed') throw new Error('the operator answered a single proposal request with a batch');
    return a.signature;
  };
  if (batchSize <= 0) return { sign };
  const signBatch = async (items: readonly ProposalItem[]): Promise<ProposalProof[]> => {
    const a = await ask({ kind: 'sign-batch', id: next++, items });
    if (a.kind !== 'batch-signed' || a.proofs.length !== items.length) throw new Error(`the operator answered a batch of ${items.length} proposals without one proof each`);
    return a.proofs;
  };
  return { sign, batchSize, signBatch };
}

async function run(m: RunMessage): Promise<ChildMessage> {
  try {
    const mod = (await import(m.module)) as Record<string, unknown>;
    const fn = mod[m.exportName];
    if (typeof fn !== 'function') return { kind: 'done', ok: false, message: `${m.module} does not export a function ${m.exportName}` };
    const report = await (fn as IngestionFunction)(m.feed, m.runId, m.context, m.signing ? remoteSigner(m.batchSize ?? 0) : undefined);
    return { kind: 'done', ok: true, report };
  } catch (err) {
    return { kind: 'done', ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

process.once('message', (m: ParentMessage) => {
  if (m.kind !== 'run') return;
  void run(m).then((done) => process.send?.(done, () => process.disconnect()));
});
