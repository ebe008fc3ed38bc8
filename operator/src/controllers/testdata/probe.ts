/**
 * An IngestionFunction for the in-process executor's key-separation test: it behaves like a
 * parser taken over by a hostile feed and reports, as rejection "reasons", what it could reach:
 * the signing key file (its path given in the Feed URL's `key` parameter), the key path in its
 * context, and what the signer it was handed will and will not sign.
 */
import { readFile } from 'node:fs/promises';
import type { Feed } from '../../api/types.ts';
import type { ProposalSigner } from '../../feeds/signer.ts';
import type { IngestionContext, IngestionReport } from '../executor.ts';

/** The indicator and metadata the probe asks to have signed. */
export const PROBE_PROPOSAL = { indicator: { type: 'domain', value: 'probe.example.net' }, meta: { confidence: 50 } } as const;

async function keyFile(path: string): Promise<string> {
  try {
    await readFile(path, 'utf8');
    return 'key-file:readable';
  } catch (err) {
    return `key-file:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

async function signing(signer: ProposalSigner | undefined): Promise<string[]> {
  if (signer === undefined) return ['signer:absent'];
  const out = [`signature:${await signer.sign(PROBE_PROPOSAL.indicator, PROBE_PROPOSAL.meta)}`];
  out.push(await signer.sign({ type: 'domain', value: 'Probe.EXAMPLE.net' }, undefined).then(() => 'unnormalized:signed', () => 'unnormalized:refused'));
  return out;
}

/** Probes and reports; never fails. */
export async function runIngestion(feed: Feed, _runId: string, context: IngestionContext, signer?: ProposalSigner): Promise<IngestionReport> {
  const findings = [
    await keyFile(new URL(feed.spec.url ?? 'http://x/').searchParams.get('key') ?? ''),
    `context-key-path:${context.signingKeyPath === undefined ? 'absent' : 'present'}`,
    ...(await signing(signer)),
  ];
  return { outcome: 'succeeded', fetched: 0, new: 0, duplicate: 0, rejected: Object.fromEntries(findings.map((f) => [f, 1])) };
}
