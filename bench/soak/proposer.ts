/**
 * The proposing side of the soak benchmark in its own process: offers distinct indicators at
 * `rate` per second for `seconds`, in ProposeBatch calls of `batch`, rotating the proposer over
 * its identities (each within the trust model's per-proposer round quota); each batch is then
 * approved by the proposer and the next identity (quorum 2). Proposals and votes are signed as
 * protocol v2 Merkle batches (one Ed25519 signature per call, as real partners sign them:
 * feeds/signer.ts, partner/voter.ts), unless the config asks for single signatures. Paced by a schedule, never queued:
 * when every one of the `concurrency` call slots is busy the schedule slips and the shortfall
 * shows as `sent` below `offered`. Every 2 s and at the end prints one JSON line of
 * {@link ProposerStats} on stdout; exits by itself after `seconds` (or at SIGTERM).
 *
 * Usage: node bench/soak/proposer.ts <config.json> (a {@link ProposerConfig}).
 */
import { readFileSync } from 'node:fs';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { signProposalBatch } from '../../operator/src/domain/proposalbatch.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, signVoteBatch, type Vote, type VoteFields } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { ExchangeClient, ExchangeCallError, type ItemRefusal } from '../../operator/src/exchange/protocol/client.ts';

/** One identity the proposer acts as (private key: benchmark only). */
export interface ProposerIdentity {
  readonly id: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Ed25519 private key, raw base64. */
  readonly signingKey: string;
}

/** What the benchmark passes to the proposer. */
export interface ProposerConfig {
  readonly address: string;
  readonly caPem: string;
  /** At least two: votes come from the proposer and the next one. */
  readonly identities: readonly ProposerIdentity[];
  readonly rate: number;
  readonly batch: number;
  readonly concurrency: number;
  readonly seconds: number;
  /** One signature per proposal and per vote (protocol v1) instead of one per batch. @default false */
  readonly singleSignatures?: boolean;
}

/** Counters the proposer reports. */
export interface ProposerStats {
  /** Proposals the schedule called for so far. */
  readonly offered: number;
  /** Proposals sent. */
  readonly sent: number;
  /** Proposals that opened a round (or found it pending or admitted). */
  readonly accepted: number;
  /** Refused proposals and votes, by reason. */
  readonly refused: Readonly<Record<string, number>>;
  /** Failed calls, by method and gRPC code or reason. */
  readonly failed: Readonly<Record<string, number>>;
  readonly votes: number;
  readonly done: boolean;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ProposerConfig;
const parties = config.identities.map((p) => ({
  id: p.id, key: SigningKey.fromRawBase64(p.signingKey),
  client: new ExchangeClient({ address: config.address, tls: { caPem: config.caPem, certPem: p.certPem, keyPem: p.keyPem }, serverName: 'localhost', deadlineMs: 30_000 }),
}));
const refused: Record<string, number> = {};
const failed: Record<string, number> = {};
let sent = 0;
let accepted = 0;
let votes = 0;
let next = 0;
let batches = 0;
let stopped = false;
const total = Math.floor(config.rate * config.seconds);
const start = performance.now();

/** The i-th indicator: distinct IPv4 addresses outside every reserved range. */
function indicator(i: number): Indicator {
  return { type: 'ipv4', value: `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}` };
}

const bump = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);
const failure = (method: string, err: unknown): string => `${method}: ${err instanceof ExchangeCallError ? err.reason ?? `code ${err.code}` : err instanceof Error ? err.message : String(err)}`;
const isRefusal = (x: object): x is ItemRefusal => 'status' in x && x.status === 'refused';

function signedVotes(key: SigningKey, fields: readonly VoteFields[]): Vote[] {
  return config.singleSignatures === true ? fields.map((f) => signVote(key, f)) : signVoteBatch(key, fields);
}

async function sendBatch(first: number, end: number): Promise<void> {
  const who = batches++ % parties.length;
  const [p, q] = [parties[who]!, parties[(who + 1) % parties.length]!];
  const inds = Array.from({ length: end - first }, (_, k) => indicator(first + k));
  sent += inds.length;
  let results;
  try {
    const proofs = config.singleSignatures === true ? inds.map((ind) => ({ signature: signProposal(p.key, 'add', ind) })) : signProposalBatch(p.key, inds.map((indicator) => ({ indicator })));
    results = await p.client.proposeBatch(inds.map((ind, k) => ({ kind: 'add' as const, indicatorJson: indicatorCanonicalJson(ind), proposerId: p.id, ...proofs[k]! })));
  } catch (err) {
    bump(failed, failure('ProposeBatch', err));
    return;
  }
  const subjects: string[] = [];
  for (const r of results) {
    if (isRefusal(r)) bump(refused, `proposal ${r.reason}`);
    else {
      accepted++;
      if (r.status !== 'already-admitted') subjects.push(r.subject);
    }
  }
  const signedAt = new Date().toISOString();
  for (const v of [p, q]) {
    try {
      const out = subjects.length === 0 ? [] : await v.client.voteBatch(signedVotes(v.key, subjects.map((digest) => ({ partnerId: v.id, digest, decision: 'approve' as const, signedAt }))));
      for (const r of out) if (isRefusal(r)) bump(refused, `vote ${r.reason}`); else votes++;
    } catch (err) {
      bump(failed, failure('VoteBatch', err));
    }
  }
}

// One of `concurrency` slots: takes the next batch when it is due; a busy machine makes them late, not queued.
async function slot(): Promise<void> {
  while (!stopped && next < total) {
    const first = next;
    const end = Math.min(total, first + config.batch);
    next = end;
    const wait = start + (first * 1000) / config.rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (stopped) return;
    await sendBatch(first, end);
  }
}

function report(done: boolean): void {
  const offered = Math.min(total, Math.floor(((performance.now() - start) / 1000) * config.rate));
  const stats: ProposerStats = { offered, sent, accepted, refused, failed, votes, done };
  process.stdout.write(JSON.stringify(stats) + '\n');
}

const ticker = setInterval(() => report(false), 2_000);
// The run ends on time: what a saturated sequencer could not take is never sent (bounded).
const deadline = setTimeout(() => { stopped = true; }, config.seconds * 1000);
process.once('SIGTERM', () => { stopped = true; });
process.once('SIGINT', () => { stopped = true; });
await Promise.all(Array.from({ length: config.concurrency }, slot));
clearInterval(ticker);
clearTimeout(deadline);
report(true);
for (const p of parties) p.client.close();
