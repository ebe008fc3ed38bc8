/**
 * Child-process entry of the in-process executor (inprocess.ts starts it with `fork`, under the
 * Node permission model): waits for one `run` message, imports the ingestion module, runs it with
 * a signer that asks the parent over IPC, and reports back. It never receives the partner's key
 * and may not read its file. Not imported by anything.
 */
import type { Indicator } from '../domain/indicator.ts';
import type { IndicatorMeta } from '../domain/entry.ts';
import type { ProposalSigner } from '../feeds/signer.ts';
import type { IngestionFunction } from './executor.ts';
import type { ChildMessage, ParentMessage, RunMessage } from './inprocess.ts';

function send(m: ChildMessage): void {
  process.send?.(m);
}

/** A signer that asks the parent, which holds the key, and waits for its answer. */
function remoteSigner(): ProposalSigner {
  let next = 0;
  const waiting = new Map<number, { resolve: (s: string) => void; reject: (e: Error) => void }>();
  process.on('message', (m: ParentMessage) => {
    if (m.kind !== 'signed' && m.kind !== 'sign-refused') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.kind === 'signed') w?.resolve(m.signature);
    else w?.reject(new Error(`the operator refused to sign: ${m.message}`));
  });
  return {
    sign: (indicator: Indicator, meta: IndicatorMeta | undefined) => new Promise<string>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      send({ kind: 'sign', id, indicator, ...(meta === undefined ? {} : { meta }) });
    }),
  };
}

async function run(m: RunMessage): Promise<ChildMessage> {
  try {
    const mod = (await import(m.module)) as Record<string, unknown>;
    const fn = mod[m.exportName];
    if (typeof fn !== 'function') return { kind: 'done', ok: false, message: `${m.module} does not export a function ${m.exportName}` };
    const report = await (fn as IngestionFunction)(m.feed, m.runId, m.context, m.signing ? remoteSigner() : undefined);
    return { kind: 'done', ok: true, report };
  } catch (err) {
    return { kind: 'done', ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

process.once('message', (m: ParentMessage) => {
  if (m.kind !== 'run') return;
  void run(m).then((done) => process.send?.(done, () => process.disconnect()));
});
