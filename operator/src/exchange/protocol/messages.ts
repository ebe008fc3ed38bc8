/**
 * The messages of the exchange protocol as the TypeScript on either side sees them: what a
 * proposal and a vote carry, what the sequencer answers, and a pending round as voters receive
 * it. The sequencer implements them, partners and CLI clients call them; neither side's
 * implementation is imported by the other. Wire forms are in wire.ts and gen/.
 */
import type { Indicator } from '../../domain/indicator.ts';
import type { EntryKind, EntryWindow, IndexedEntry, IndicatorMeta } from '../../domain/entry.ts';

/** Most items in one ProposeBatch or VoteBatch call, and most rounds in one ListPending page. */
export const MAX_BATCH_ITEMS = 1_000;

/** A proposal as received: kind, wire indicator, optional wire metadata, proposer and signature. */
export interface ProposalInput {
  readonly kind: EntryKind;
  readonly indicatorJson: string;
  /** Canonical JSON of the signed metadata (entry.ts parseMetaJson); absent or empty: none. */
  readonly metaJson?: string;
  readonly proposerId: string;
  readonly signature: string;
  /** Protocol v2, ADD only: the batch proposal's proof (domain/proposalbatch.ts); `signature` is then of kind `proposal-batch`. @default none (a single proposal) */
  readonly batch?: string;
}

/** Result of the sequencer's propose. */
export interface ProposalResult {
  readonly status: 'opened' | 'already-pending' | 'already-admitted';
  readonly digest: string;
  /** What votes must sign as their digest. */
  readonly subject: string;
  readonly logIndex?: number;
  readonly window?: EntryWindow;
}

/** Result of the sequencer's vote. */
export interface VoteResult {
  readonly status: 'counted' | 'approved' | 'rejected' | 'duplicate';
  readonly logIndex?: number;
  readonly approvals: number;
  readonly rejections: number;
  readonly required: number;
}

/** A round waiting for votes, as voters see it. */
export interface PendingRound {
  readonly kind: EntryKind;
  readonly indicator: Indicator;
  readonly indicatorJson: string;
  /** The metadata the proposer signed with the indicator, when it sent some. */
  readonly meta?: IndicatorMeta;
  readonly digest: string;
  readonly subject: string;
  readonly proposerId: string;
  readonly signature: string;
  /** Protocol v2: the proposal's batch proof, when it was signed in a batch. */
  readonly batch?: string;
  readonly window: EntryWindow;
  /** Votes counted so far and approvals needed; set by the sequencer and ListPending, informative only. */
  readonly tally?: VoteTally;
}

/** The votes a pending round has counted so far. */
export interface VoteTally {
  readonly approvals: number;
  readonly rejections: number;
  readonly required: number;
}

/** An entry with its inclusion proof in the tree of the requested size. */
export interface ProvenEntry {
  readonly entry: IndexedEntry;
  readonly proof: readonly string[];
}
