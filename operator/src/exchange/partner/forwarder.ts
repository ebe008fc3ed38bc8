/**
 * Forwards this partner's local proposals to the sequencer: ThreatIndicators of the exchange
 * namespace in phase Proposed (or without a phase yet) whose spec.proposal names this partner
 * go out with ProposeBatch, the signature from spec.proposal and the spec's metadata
 * (specmeta.ts metaOfSpec: what the ingest signed with the indicator). Idempotent on the sequencer
 * (already-pending and already-admitted are answers, not errors); what was forwarded is
 * remembered in memory only, so a restart forwards again and the sequencer says so.
 */
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { ThreatIndicator } from '../../api/types.ts';
import { indicatorCanonicalJson, indicatorDigest } from '../../domain/canonical.ts';
import type { PublicKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import { listFrom, type KubeReader } from '../../runtime/client.ts';
import type { CacheReader } from '../../runtime/types.ts';
import type { ItemRefusal } from '../protocol/client.ts';
import { overMessageLimit } from './failures.ts';
import { metaJson, verifyProposal, type IndicatorMeta } from '../../domain/entry.ts';
import type { ProposalInput, ProposalResult } from '../protocol/messages.ts';
import { MAX_BATCH_ITEMS } from '../protocol/messages.ts';
import { metaOfSpec } from '../../api/specmeta.ts';

/** The sequencer call the forwarder makes (ExchangeClient implements it). */
export interface ProposalSink {
  proposeBatch(ps: readonly ProposalInput[]): Promise<Array<ProposalResult | ItemRefusal>>;
}

/** What the forwarder is built from. */
export interface ForwarderOptions {
  readonly client: KubeReader;
  /** The operator's ThreatIndicator informer: reads come from its cache. @default none (list from the API server) */
  readonly cache?: CacheReader<ThreatIndicator>;
  readonly namespace: string;
  readonly partnerId: string;
  /**
   * This partner's proposal key, to recognize objects signed before metadata was signed (over
   * the indicator alone): they are forwarded without metadata. @default none (always with the spec's metadata)
   */
  readonly proposerKey?: PublicKey;
  readonly log: Logger;
  /** Called with the number of proposals the sequencer acknowledged. */
  readonly onForwarded?: (n: number) => void;
  /** Told about a single proposal over the sequencer's message limit (not forwarded). @default none (logged only) */
  readonly onOversize?: (name: string, err: unknown) => void;
}

/**
 * The ProposalInput of a locally signed ThreatIndicator, with the spec's metadata as meta_json,
 * or undefined when it is not this partner's pending proposal. With `proposerKey`, a signature
 * that covers the indicator alone (made before metadata was signed) is sent without metadata.
 */
export function localProposal(ti: ThreatIndicator, partnerId: string, proposerKey?: PublicKey): ProposalInput | undefined {
  const phase = ti.status?.phase;
  if (phase !== undefined && phase !== 'Proposed') return undefined;
  if (ti.spec.proposal?.partnerId !== partnerId || ti.metadata.deletionTimestamp !== undefined) return undefined;
  const indicator = { type: ti.spec.type, value: ti.spec.value };
  const { signature, batch } = ti.spec.proposal;
  const spec = metaOfSpec(ti.spec);
  let meta: IndicatorMeta | undefined = spec.ok ? spec.meta : undefined;
  // A batch proposal (protocol v2) was always signed with its spec's metadata.
  if (batch === undefined && meta !== undefined && proposerKey !== undefined && !verifyProposal(proposerKey, 'add', indicator, signature, meta) && verifyProposal(proposerKey, 'add', indicator, signature)) meta = undefined;
  return { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), ...(meta !== undefined ? { metaJson: metaJson(meta) } : {}), proposerId: partnerId, signature, ...(batch !== undefined ? { batch } : {}) };
}

/** Digests of the ThreatIndicators among `tis` that are this partner's own pending proposals. */
export function ownProposalDigests(tis: readonly ThreatIndicator[], partnerId: string, proposerKey?: PublicKey): Set<string> {
  return new Set(tis.filter((ti) => localProposal(ti, partnerId, proposerKey) !== undefined).map((ti) => indicatorDigest({ type: ti.spec.type, value: ti.spec.value })));
}

/** Bytes of proposals in one ProposeBatch: well under the 4 MiB message limit (long URLs with metadata run to ~7 KB each). */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024;
// Signature, proposer id and framing of one proposal, generously.
const PROPOSAL_OVERHEAD_BYTES = 256;

/**
 * Proposals per ProposeBatch call: the sequencer verifies and persists every item before it
 * answers, and a full batch of {@link MAX_BATCH_ITEMS} can outlast the call deadline on a busy machine.
 */
export const FORWARD_BATCH_ITEMS = Math.min(250, MAX_BATCH_ITEMS);

/** Splits proposals into ProposeBatch calls of at most {@link FORWARD_BATCH_ITEMS} items and {@link MAX_BATCH_BYTES} bytes (at least one item each). */
export function proposalBatches<T extends { readonly p?: ProposalInput | undefined }>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.p?.indicatorJson ?? '') + Buffer.byteLength(item.p?.metaJson ?? '') + PROPOSAL_OVERHEAD_BYTES;
    if (current.length > 0 && (current.length >= FORWARD_BATCH_ITEMS || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Forwards local proposals, each once per process lifetime. */
/** What one batch sent: proposals acknowledged, and proposals over the round quota (sent again later). */
interface Sent {
  acked: number;
  waiting: number;
}

export class ProposalForwarder {
  readonly #o: ForwarderOptions;
  readonly #done = new Set<string>();
  #own: ReadonlySet<string> = new Set();

  constructor(opts: ForwarderOptions) {
    this.#o = opts;
  }

  /**
   * Digests of the indicators this partner's own Feeds proposed, as of the last
   * {@link forwardOnce}: what "corroborated by our own feeds" means to the voting policy.
   */
  ownDigests(): ReadonlySet<string> {
    return this.#own;
  }

  /** Forwards what is new; returns how many the sequencer acknowledged. Transport errors reject (retry next period). */
  async forwardOnce(sequencer: ProposalSink): Promise<number> {
    const tis = await listFrom<ThreatIndicator>(this.#o.cache, this.#o.client, THREAT_INDICATORS, { namespace: this.#o.namespace });
    this.#own = ownProposalDigests(tis, this.#o.partnerId, this.#o.proposerKey);
    const todo = tis.map((ti) => ({ name: ti.metadata.name, p: localProposal(ti, this.#o.partnerId, this.#o.proposerKey) })).filter((x) => x.p !== undefined && !this.#done.has(x.name));
    let acked = 0;
    let waiting = 0;
    for (const batch of proposalBatches(todo)) {
      // Over the round quota: the rest is proposed again next period, once some of our rounds are decided.
      if (waiting > 0) {
        waiting += batch.length;
        continue;
      }
      const sent = await this.#send(sequencer, batch);
      acked += sent.acked;
      waiting += sent.waiting;
    }
    if (waiting > 0) this.#o.log.info('round quota reached at the sequencer; the rest waits for open rounds to be decided', { waiting });
    if (acked > 0) {
      this.#o.log.info('forwarded proposals', { count: acked });
      this.#o.onForwarded?.(acked);
    }
    return acked;
  }

  /**
   * Sends one batch; a batch the sequencer's message limit refuses (RESOURCE_EXHAUSTED, no
   * refusal reason: its limit is lower than this side assumed) is sent again in halves, so no
   * proposal is stuck behind a limit; a single proposal over it is reported and left.
   */
  async #send(sequencer: ProposalSink, batch: ReadonlyArray<{ readonly name: string; readonly p?: ProposalInput | undefined }>): Promise<Sent> {
    let results: Array<ProposalResult | ItemRefusal>;
    try {
      results = await sequencer.proposeBatch(batch.map((x) => x.p!));
    } catch (err) {
      if (!overMessageLimit(err)) throw err;
      if (batch.length === 1) {
        this.#done.add(batch[0]!.name);
        this.#o.log.error('a local proposal is larger than the sequencer accepts in one message; not forwarded (raise the sequencer\'s message limit)', { name: batch[0]!.name, detail: err instanceof Error ? err.message : String(err) });
        this.#o.onOversize?.(batch[0]!.name, err);
        return { acked: 0, waiting: 0 };
      }
      this.#o.log.warn('proposal batch over the sequencer\'s message limit; sending it in halves', { proposals: batch.length });
      const half = Math.ceil(batch.length / 2);
      const first = await this.#send(sequencer, batch.slice(0, half));
      if (first.waiting > 0) return { acked: first.acked, waiting: first.waiting + batch.length - half };
      const second = await this.#send(sequencer, batch.slice(half));
      return { acked: first.acked + second.acked, waiting: second.waiting };
    }
    const sent = { acked: 0, waiting: 0 };
    results.forEach((r, j) => {
      const name = batch[j]!.name;
      // Over the round quota: left out of #done, so it is proposed again next period.
      if (r.status === 'refused' && r.reason === 'round-quota') {
        sent.waiting += 1;
        return;
      }
      // Any other refusal (bad signature, not a contributor…) will not change by retrying: say it once.
      this.#done.add(name);
      if (r.status === 'refused') this.#o.log.warn('sequencer refused a local proposal', { name, reason: r.reason, detail: r.message });
      else sent.acked += 1;
    });
    return sent;
  }
}
