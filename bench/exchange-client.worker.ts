/**
 * The proposing and voting side of bench/exchange.bench.ts in its own thread: proposes
 * indicators [from, to) as alpha and approves each as alpha and bravo, with `concurrency`
 * rounds in flight; posts when each proposal was sent (ms since the epoch).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { indicatorCanonicalJson, indicatorDigest } from '../operator/src/domain/canonical.ts';
import type { Indicator } from '../operator/src/domain/indicator.ts';
import { signVote } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import { ExchangeClient } from '../operator/src/exchange/client.ts';
import { signProposal } from '../operator/src/exchange/entry.ts';
import type { TlsMaterial } from '../operator/src/exchange/tls.ts';

/** What the benchmark passes to a client thread (private keys: benchmark only). */
export interface ClientWorkerData {
  readonly address: string;
  readonly from: number;
  readonly to: number;
  readonly concurrency: number;
  readonly alpha: { readonly tls: TlsMaterial; readonly key: string };
  readonly bravo: { readonly tls: TlsMaterial; readonly key: string };
}

/** The i-th benchmark indicator: distinct IPv4 addresses. */
export function benchIndicator(i: number): Indicator {
  return { type: 'ipv4', value: `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}` };
}

const data = workerData as ClientWorkerData;
const keys = { alpha: SigningKey.fromRawBase64(data.alpha.key), bravo: SigningKey.fromRawBase64(data.bravo.key) };
const open = (tls: TlsMaterial): ExchangeClient => new ExchangeClient({ address: data.address, tls, serverName: 'localhost', deadlineMs: 60_000 });
const alpha = open(data.alpha.tls);
const bravo = open(data.bravo.tls);
let next = data.from;
let sent: Array<[string, number]> = [];
const worker = async (): Promise<void> => {
  while (next < data.to) {
    const ind = benchIndicator(next++);
    const digest = indicatorDigest(ind);
    sent.push([digest, performance.timeOrigin + performance.now()]);
    if (sent.length >= 256) {
      parentPort?.postMessage(sent);
      sent = [];
    }
    await alpha.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind) });
    const signedAt = new Date().toISOString();
    await alpha.vote(signVote(keys.alpha, { partnerId: 'alpha', digest, decision: 'approve', signedAt }));
    await bravo.vote(signVote(keys.bravo, { partnerId: 'bravo', digest, decision: 'approve', signedAt }));
  }
};
await Promise.all(Array.from({ length: data.concurrency }, worker));
parentPort?.postMessage(sent);
alpha.close();
bravo.close();
