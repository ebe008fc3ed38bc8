/**
 * An IngestionFunction for the in-process executor's batch-signing test: like a parser taken
 * over by a hostile feed, it asks the operator over IPC for a good batch, a batch with one
 * unnormalized leaf and a batch over the signer's size, and reports, as rejection "reasons",
 * the proofs it got (JSON) and each refusal's message.
 */
import type { Feed } from '../../api/types.ts';
import type { ProposalItem } from '../../domain/proposalbatch.ts';
import type { ProposalSigner } from '../../feeds/signer.ts';
import type { IngestionContext, IngestionReport } from '../executor.ts';

/** The proposals of the good batch the probe asks to have signed. */
export const BATCH_PROBE_ITEMS: readonly ProposalItem[] = [
  { indicator: { type: 'domain', value: 'one.example.net' } },
  { indicator: { type: 'ipv4', value: '192.0.2.9' }, meta: { confidence: 70 } },
];

function outcome(p: Promise<unknown>, tag: string): Promise<string> {
  return p.then((v) => `${tag}:${JSON.stringify(v)}`, (err: unknown) => `${tag}-refused:${err instanceof Error ? err.message : String(err)}`);
}

async function batches(signer: ProposalSigner | undefined): Promise<string[]> {
  if (signer?.signBatch === undefined) return [`batch-signer:absent`, `batch-size:${signer?.batchSize ?? 0}`];
  const size = signer.batchSize ?? 0;
  const tampered: ProposalItem[] = [BATCH_PROBE_ITEMS[0]!, { indicator: { type: 'domain', value: 'TWO.example.net' } }];
  const over = Array.from({ length: size + 1 }, () => BATCH_PROBE_ITEMS[0]!);
  return [
    `batch-size:${size}`,
    await outcome(signer.signBatch(BATCH_PROBE_ITEMS), 'proofs'),
    await outcome(signer.signBatch(tampered), 'tampered'),
    await outcome(signer.signBatch(over), 'oversize'),
  ];
}

/** Probes and reports; never fails. */
export async function runIngestion(_feed: Feed, _runId: string, _context: IngestionContext, signer?: ProposalSigner): Promise<IngestionReport> {
  const findings = await batches(signer);
  return { outcome: 'succeeded', fetched: 0, new: 0, duplicate: 0, rejected: Object.fromEntries(findings.map((f) => [f, 1])) };
}
