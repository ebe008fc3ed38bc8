/** Typed refusals of the exchange: what the caller did wrong, with a machine-readable reason and a gRPC-like code. */

/** The class of a refusal, mapped one-to-one to a gRPC status by the server. */
export type RefusalCode = 'invalid-argument' | 'permission-denied' | 'unauthenticated' | 'not-found' | 'failed-precondition' | 'out-of-range' | 'resource-exhausted' | 'unavailable';

/** Machine-readable refusal reasons (stable: metric labels and test assertions use them). */
export type RefusalReason =
  | 'malformed-indicator' | 'not-normalized' | 'not-canonical' | 'invalid-kind' | 'invalid-meta'
  | 'bad-proposal-signature' | 'bad-vote-signature' | 'invalid-vote' | 'outside-window'
  | 'identity-mismatch' | 'unknown-partner' | 'missing-role' | 'no-client-certificate' | 'not-a-client-certificate' | 'pinned-certificate-mismatch'
  | 'unknown-proposal' | 'not-admitted' | 'not-active' | 'quorum-unreachable' | 'out-of-range' | 'batch-too-large' | 'too-large' | 'too-many-streams' | 'slow-stream' | 'round-quota' | 'signed-in-future' | 'sequencer-stopping';

/** A request the exchange refuses; `message` says what was wrong and what to do. */
export class ExchangeRefusal extends Error {
  /** Machine-readable cause. */
  readonly reason: RefusalReason;
  /** Status class. */
  readonly code: RefusalCode;
  constructor(code: RefusalCode, reason: RefusalReason, message: string) {
    super(message);
    this.name = 'ExchangeRefusal';
    this.code = code;
    this.reason = reason;
  }
}

/**
 * The refusal a call gets when the sequencer stops under it (UNAVAILABLE, reason
 * `sequencer-stopping`): nothing of it is lost, the caller asks again (another replica may
 * serve) and resumes entry streams from its cursor.
 */
export function sequencerStopping(): ExchangeRefusal {
  return new ExchangeRefusal('unavailable', 'sequencer-stopping', 'the sequencer is stopping; ask again (another replica may serve), resuming entry streams from your cursor');
}

/** True for the refusal {@link sequencerStopping} makes. */
export function isSequencerStopping(err: unknown): boolean {
  return err instanceof ExchangeRefusal && err.reason === 'sequencer-stopping';
}
