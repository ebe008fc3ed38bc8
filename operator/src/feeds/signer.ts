/**
 * Who signs a Feed run's proposals. The run that parses an untrusted feed need not hold the
 * partner's key: it gets a {@link ProposalSigner}, either the key itself ({@link keySigner}, for
 * `threatmesh ingest` in its own Job) or a request to the process that holds it (the in-process
 * executor's parent, which answers with {@link signProposalRequest}, or with
 * {@link signProposalBatchRequest} for a batch).
 */
import { isIndicatorType, normalize, type Indicator } from '../domain/indicator.ts';
import type { SigningKey } from '../domain/signature.ts';
import { signProposal, validateMeta, type IndicatorMeta } from '../domain/entry.ts';
import { signProposalBatch, type ProposalItem, type ProposalProof } from '../domain/proposalbatch.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';

/** Signs this partner's ADD proposals: the indicator with the metadata of its spec. */
export interface ProposalSigner {
  /** The signature of kind `proposal` over the indicator (and `meta` when given). */
  sign(indicator: Indicator, meta: IndicatorMeta | undefined): Promise<string>;
  /**
   * Protocol v2 batch proposals (domain/proposalbatch.ts): one `proposal-batch` signature over
   * up to {@link batchSize} items, and each item's proof, in order. @default none (single proposals)
   */
  readonly signBatch?: (items: readonly ProposalItem[]) => Promise<ProposalProof[]>;
  /** Proposals signed per batch by {@link signBatch}. @default 0 (single proposals) */
  readonly batchSize?: number;
}

/**
 * A signer holding the key in this process. With `batchSize` > 0 it also signs batches of up
 * to that many proposals (protocol v2: only once the sequencer and every partner run it).
 */
export function keySigner(key: SigningKey, batchSize = 0): ProposalSigner {
  const sign = (indicator: Indicator, meta: IndicatorMeta | undefined): Promise<string> => Promise.resolve(signProposal(key, 'add', indicator, meta));
  if (batchSize <= 0) return { sign };
  return { sign, batchSize, signBatch: (items) => Promise.resolve(signProposalBatch(key, items)) };
}

/** What a process without the key asks the key holder to sign (plain data, from an untrusted process). */
export interface ProposalSignRequest {
  readonly indicator: unknown;
  readonly meta?: unknown;
}

/** The answer to a {@link ProposalSignRequest}. */
export type ProposalSignResult = { readonly ok: true; readonly signature: string } | { readonly ok: false; readonly message: string };

/** A request item checked as the sequencer would check it, or why it is refused. */
type Checked = { readonly ok: true; readonly item: ProposalItem } | { readonly ok: false; readonly message: string };

// The one check every proposal text passes before this key signs it, alone or as a batch leaf.
function checkRequest(req: ProposalSignRequest): Checked {
  const ind = req.indicator as { type?: unknown; value?: unknown } | null;
  if (typeof ind !== 'object' || ind === null || typeof ind.type !== 'string' || typeof ind.value !== 'string' || !isIndicatorType(ind.type)) {
    return { ok: false, message: 'a proposal signature needs an indicator {type, value} of a known type' };
  }
  const n = normalize(ind.type, ind.value);
  if (!n.ok || n.indicator.value !== ind.value) return { ok: false, message: `refusing to sign ${ind.type} ${JSON.stringify(ind.value.slice(0, 100))}: it is not a normalized indicator` };
  if (req.meta === undefined) return { ok: true, item: { indicator: n.indicator } };
  const m = validateMeta(req.meta);
  if (typeof m === 'string') return { ok: false, message: `refusing to sign: ${m}` };
  return { ok: true, item: { indicator: n.indicator, meta: m } };
}

/**
 * Signs a request from a process that parses untrusted feeds, after checking it as the
 * sequencer would: only an ADD proposal (signature kind `proposal`, never a vote, revocation or
 * tree head), of an indicator already normalized, with metadata that validateMeta accepts.
 * Whatever the requester does, it can get no more than the proposals it could make anyway.
 */
export function signProposalRequest(key: SigningKey, req: ProposalSignRequest): ProposalSignResult {
  const c = checkRequest(req);
  return c.ok ? { ok: true, signature: signProposal(key, 'add', c.item.indicator, c.item.meta) } : c;
}

/** What a process without the key asks the key holder to sign as one batch (plain data, from an untrusted process). */
export interface ProposalBatchSignRequest {
  /** The proposals, each a {@link ProposalSignRequest}; the key holder builds every leaf from them itself. */
  readonly items: unknown;
}

/** The answer to a {@link ProposalBatchSignRequest}: each item's proof, in the order asked. */
export type ProposalBatchSignResult = { readonly ok: true; readonly proofs: ProposalProof[] } | { readonly ok: false; readonly message: string };

/**
 * Signs a batch request (protocol v2) from a process that parses untrusted feeds: 1 to
 * `maxSize` items (the operator's `--proposal-batch-size`, at most MAX_VOTE_BATCH), each checked
 * exactly as {@link signProposalRequest} checks a single one. The leaves are built here from the
 * checked items, so the root signed is over texts this process saw; one bad item refuses the
 * whole batch, naming it, and nothing is signed.
 */
export function signProposalBatchRequest(key: SigningKey, req: ProposalBatchSignRequest, maxSize: number): ProposalBatchSignResult {
  const cap = Math.min(maxSize, MAX_VOTE_BATCH);
  if (cap < 1) return { ok: false, message: 'this operator signs single proposals only (--proposal-batch-size 0); ask for one signature per proposal' };
  const items = req.items;
  if (!Array.isArray(items) || items.length === 0) return { ok: false, message: 'a batch proposal request needs a non-empty list of items {indicator, meta?}' };
  if (items.length > cap) return { ok: false, message: `refusing a batch of ${items.length} proposals: this operator signs at most ${cap} at once (--proposal-batch-size); split it` };
  const checked: ProposalItem[] = [];
  for (const [i, raw] of (items as unknown[]).entries()) {
    const c = typeof raw === 'object' && raw !== null ? checkRequest(raw as ProposalSignRequest) : { ok: false as const, message: 'an item must be an object {indicator, meta?}' };
    if (!c.ok) return { ok: false, message: `batch item ${i} of ${items.length}: ${c.message}; nothing in the batch was signed` };
    checked.push(c.item);
  }
  return { ok: true, proofs: signProposalBatch(key, checked) };
}
