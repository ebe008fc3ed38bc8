/**
 * What a `Sequencer` is built from, and the observer it tells of its answers and closed
 * rounds (metrics).
 */
import type { RetiredKey } from '../../domain/keys.ts';
import type { Voter } from '../../domain/quorum.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { SequencerLogStore, SequencerRoundStore } from '../../domain/stores.ts';
import type { Logger } from '../../log.ts';
import type { ProposalResult, VoteResult } from '../protocol/messages.ts';
import type { StoredPageLimits } from './pages.ts';
import type { Round } from './pending.ts';

/** Everything a sequencer is built from. */
export interface SequencerOptions {
  readonly store: SequencerLogStore;
  /** Keeps open rounds across restarts. @default none (rounds in memory only) */
  readonly rounds?: SequencerRoundStore;
  /** Signs tree heads; its key id is the log id. */
  readonly key: SigningKey;
  /** Earlier tree-head keys (from the sequencer's PartnerNode): the stored head may be signed by one still valid at its timestamp. @default none */
  readonly retiredKeys?: readonly RetiredKey[];
  /** Every partner of the network with its key and roles, at start; replace it with `Sequencer.setPartners`. */
  readonly partners: readonly Voter[];
  /** Approvals required. @default ⌊2n/3⌋+1 of the voters */
  readonly quorum?: number;
  /** How long a round accepts votes. @default SEQUENCER_DEFAULTS.votingWindowMs (72 h) */
  readonly windowMs?: number;
  /** How far before the proposal, or ahead of this clock, a vote's signedAt may be (voters' clock skew). @default SEQUENCER_DEFAULTS.skewMs */
  readonly skewMs?: number;
  /** Most rounds one proposer may have open; more proposals are refused `round-quota` until some are decided. @default SEQUENCER_DEFAULTS.maxOpenRoundsPerProposer */
  readonly maxOpenRoundsPerProposer?: number;
  /** Recent entries kept in memory to serve partners without a database read (0: always read the store). @default SEQUENCER_DEFAULTS.entryCacheSize */
  readonly entryCacheSize?: number;
  /** Paging of store reads for streams behind the entry cache (see `SequencerLogOptions.storePages`). @default StoredPageLimits defaults */
  readonly storePages?: StoredPageLimits;
  /** Told the outcome of every proposal and vote (metrics). @default none */
  readonly observer?: SequencerObserver;
  readonly now: () => Date;
  readonly log: Logger;
}

/** Hooks told how each proposal and vote was answered: its result status, `refused` (an ExchangeRefusal) or `error`. */
export interface SequencerObserver {
  proposal(status: ProposalResult['status'] | 'refused' | 'error'): void;
  vote(status: VoteResult['status'] | 'refused' | 'error'): void;
  /** A round closed: admitted to the log, rejected by votes (an ADD round's rejection is logged as a REJECT entry), or expired with its window (not logged). */
  roundClosed?(kind: Round['kind'], outcome: RoundOutcome): void;
}

/** How a voting round closed. */
export type RoundOutcome = 'admitted' | 'rejected' | 'expired';
