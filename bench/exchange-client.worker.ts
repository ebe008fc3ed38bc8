/**
 * The proposing and voting side of bench/exchange.bench.ts in its own thread: proposes
 * indicators [from, to) as alpha and approves (or, for a `rejectShare` of them, rejects) each as
 * alpha and bravo (protocol v1: a signature per vote; v2: one batch signature per call's votes;
 * v2p: and one batch signature per call's proposals),
 * `batch` per call and
 * `concurrency` calls in flight. Posts {@link ClientMessage}s: when each proposal was sent
 * (Date.now(), the one clock every thread shares) and, last, the CPU time this thread spent sending.
 */
// Counts this thread's signature verifications when THREATMESH_VERIFY_COUNT_DIR is set (exchange.bench.ts sets it).
import './scale-verifycount.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { indicatorCanonicalJson, indicatorDigest } from '../operator/src/domain/canonical.ts';
import type { Indicator } from '../operator/src/domain/indicator.ts';
import { signVote, signVoteBatch, type Vote } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import { ExchangeClient } from '../operator/src/exchange/protocol/client.ts';
import { signProposal } from '../operator/src/domain/entry.ts';
import { signProposalBatch, type ProposalProof } from '../operator/src/domain/proposalbatch.ts';
import type { TlsMaterial } from '../operator/src/exchange/protocol/tls.ts';

/** What the benchmark passes to a client thread (private keys: benchmark only). */
export interface ClientWorkerData {
  readonly address: string;
  readonly from: number;
  readonly to: number;
  readonly concurrency: number;
  /** Indicators per ProposeBatch/VoteBatch call; 1 uses the single-item calls. */
  readonly batch: number;
  /** Indicators per second this thread offers; 0 sends as fast as answers come. */
  readonly rate: number;
  /** Share of the indicators both voters reject (each such round becomes a REJECT entry): indicator i is rejected when i mod 100 < 100·share. @default 0 */
  readonly rejectShare?: number;
  /** `v1`: one signature per vote and per proposal; `v2`: each call's votes signed as one batch (protocol version 2, domain/votebatch.ts); `v2p`: each call's proposals too (domain/proposalbatch.ts). */
  readonly votes: 'v1' | 'v2' | 'v2p';
  readonly alpha: { readonly tls: TlsMaterial; readonly key: string };
  readonly bravo: { readonly tls: TlsMaterial; readonly key: string };
}

/** What a client thread posts: send times of a batch's digests, or its CPU time at the end. */
export type ClientMessage = { readonly sent: Array<[string, number]> } | { readonly cpuMs: number };

/** The i-th benchmark indicator: distinct IPv4 addresses. */
export function benchIndicator(i: number): Indicator {
  return { type: 'ipv4', value: `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}` };
}

const data = workerData as ClientWorkerData;
const keys = { alpha: SigningKey.fromRawBase64(data.alpha.key), bravo: SigningKey.fromRawBase64(data.bravo.key) };
const open = (tls: TlsMaterial): ExchangeClient => new ExchangeClient({ address: data.address, tls, serverName: 'localhost', deadlineMs: 60_000 });
const post = (m: ClientMessage): void => parentPort?.postMessage(m);
const cpuStart = process.threadCpuUsage();
const alpha = open(data.alpha.tls);
const bravo = open(data.bravo.tls);
let next = data.from;
// Paced sending: batch k leaves at start + k·batch/rate, so latency is measured below capacity.
let slot = performance.now();
const worker = async (): Promise<void> => {
  while (next < data.to) {
    const first = next;
    const end = Math.min(data.to, next + data.batch);
    next = end;
    if (data.rate > 0) {
      const due = slot;
      slot += ((end - first) * 1000) / data.rate;
      const wait = due - performance.now();
      // `next` moves on while this call waits: the batch is [first, end), fixed before.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const inds = Array.from({ length: end - first }, (_, k) => benchIndicator(first + k));
    const digests = inds.map(indicatorDigest);
    const at = Date.now();
    post({ sent: digests.map((d) => [d, at]) });
    const proofs: ProposalProof[] = data.votes === 'v2p' ? signProposalBatch(keys.alpha, inds.map((indicator) => ({ indicator }))) : inds.map((ind) => ({ signature: signProposal(keys.alpha, 'add', ind) }));
    const proposals = inds.map((ind, k) => ({ kind: 'add' as const, indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', ...proofs[k]! }));
    if (data.batch === 1) await alpha.propose(proposals[0]!);
    else await alpha.proposeBatch(proposals);
    const signedAt = new Date().toISOString();
    const decision = (k: number): 'approve' | 'reject' => ((first + k) % 100 < 100 * (data.rejectShare ?? 0) ? 'reject' : 'approve');
    const votes = (id: 'alpha' | 'bravo'): Vote[] => {
      const fields = digests.map((digest, k) => ({ partnerId: id, digest, decision: decision(k), signedAt }));
      return data.votes === 'v1' ? fields.map((f) => signVote(keys[id], f)) : signVoteBatch(keys[id], fields);
    };
    if (data.batch === 1) {
      await alpha.vote(votes('alpha')[0]!);
      await bravo.vote(votes('bravo')[0]!);
    } else {
      await alpha.voteBatch(votes('alpha'));
      await bravo.voteBatch(votes('bravo'));
    }
  }
};
await Promise.all(Array.from({ length: data.concurrency }, worker));
alpha.close();
bravo.close();
const cpu = process.threadCpuUsage(cpuStart);
post({ cpuMs: (cpu.user + cpu.system) / 1000 });
