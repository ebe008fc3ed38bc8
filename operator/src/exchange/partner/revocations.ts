/**
 * Starting a revocation from the cluster. An analyst annotates an Approved ThreatIndicator of the
 * exchange namespace with `threatmesh.io/revoke: "<reason>"`; {@link RevocationRequests.syncOnce}
 * signs a REVOKE proposal for it with this partner's key (kind `revocation` over
 * entry.ts revocationPayload) and sends it to the sequencer. The protocol's proposal carries no
 * text, so when this partner has the voter role it also sends its own approve vote on the round
 * with the reason (signed and kept in the REVOKE entry), as `threatmesh revoke` does. The outcome
 * is written to `threatmesh.io/revoke-result` (`opened|already-pending|refused: <message>`);
 * an object with a result is never proposed again (remove the result to ask again), so each
 * request is acted on once, across restarts. Only metadata is patched.
 *
 * It owns no timer: the partner exchange calls syncOnce every few seconds; other partners' voters see
 * the round through their PendingMirror (manualvote.ts) and vote with `threatmesh.io/vote`.
 */
import type { ThreatIndicator } from '../../api/types.ts';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import { indicatorCanonicalJson, indicatorObjectName } from '../../domain/canonical.ts';
import { isIndicatorType, normalize, type Indicator } from '../../domain/indicator.ts';
import { signVote, type Vote } from '../../domain/quorum.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import { listFrom, type KubeClient } from '../../runtime/client.ts';
import type { CacheReader } from '../../runtime/types.ts';
import { ExchangeCallError, type ItemRefusal } from '../protocol/client.ts';
import { ENTRY_LIMITS, roundSubject, signProposal } from '../../domain/entry.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { ProposalInput, ProposalResult, VoteResult } from '../protocol/messages.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';
import type { MisbehaviourReport } from './rounds.ts';

/** The annotations of a revocation request. */
export const REVOKE_REQUEST = {
  /** Set by the analyst on an Approved ThreatIndicator: why it is withdrawn. */
  request: 'threatmesh.io/revoke',
  /** Set by the operator: `<status>: <message>`; its presence means the request was handled. */
  result: 'threatmesh.io/revoke-result',
} as const;

/** The longest reason accepted (it is signed into a vote and kept in the log). */
export const MAX_REVOKE_REASON = ENTRY_LIMITS.reason;

/** The calls made on the sequencer (ExchangeClient implements them; a one-item batch is the partner's proposal call). */
export interface RevocationClient {
  proposeBatch(ps: readonly ProposalInput[]): Promise<Array<ProposalResult | ItemRefusal>>;
  vote(v: Vote): Promise<VoteResult>;
}

/** Everything {@link RevocationRequests} is built from. */
export interface RevocationRequestsOptions {
  readonly client: KubeClient;
  /** The operator's ThreatIndicator informer: reads come from its cache. @default none (list from the API server) */
  readonly cache?: CacheReader<ThreatIndicator>;
  /** Namespace of this partner's ThreatIndicators (the operator's --exchange-namespace). */
  readonly namespace: string;
  readonly sequencer: RevocationClient;
  /** This partner's id: the proposer (must be the CN of the client certificate; needs the contributor role). */
  readonly partnerId: string;
  /** This partner's Ed25519 key. */
  readonly key: SigningKey;
  /** Whether this partner has the voter role now (then it approves its own revocation with the reason). */
  readonly isVoter: () => boolean;
  readonly now: () => Date;
  readonly log: Logger;
  /** Told when the sequencer is caught naming another round than the revocation's. @default none (refused only) */
  readonly onMisbehaviour?: MisbehaviourReport;
  /** Every how many calls the namespace is listed (annotations cannot be selected server-side; 1: every call). @default PARTNER_DEFAULTS.revocationScanEvery */
  readonly scanEvery?: number;
}

/** What one {@link RevocationRequests.syncOnce} did. */
export interface RevocationReport {
  /** Unanswered requests found. */
  readonly requests: number;
  /** Revocation proposals sent (opened or already pending). */
  readonly proposed: number;
  /** Requests answered refused (by the sequencer, or not revocable as annotated). */
  readonly refused: number;
  /** Requests whose handling failed for a transient reason; retried next sync. */
  readonly deferred: number;
}

/** What happened to one request, before it is written as text. */
export type RevocationOutcome =
  | { readonly status: ProposalResult['status']; readonly subject: string; readonly closesAt?: string; readonly vote: string }
  | { readonly status: 'refused'; readonly message: string };

const MAX_MESSAGE = 1024;

/** The text of the `revoke-result` annotation: `<status>: <message>`. */
export function formatRevocationResult(o: RevocationOutcome, partnerId: string): string {
  const text = o.status === 'refused' ? o.message
    : `revocation round ${o.subject} ${o.status === 'opened' ? 'opened' : 'already open'} by ${partnerId}${o.closesAt !== undefined ? `, voting closes at ${o.closesAt}` : ''}; ${o.vote}`;
  return `${o.status === 'already-admitted' ? 'refused' : o.status}: ${text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 1)}…`}`;
}

/**
 * Why an annotated object cannot be revoked as it is (the message to record), or its reason and
 * indicator: it must be Approved, with a non-empty reason of at most {@link MAX_REVOKE_REASON}
 * characters and a spec whose normalized indicator is the object's name.
 */
export function revocationRequest(obj: ThreatIndicator): { readonly ok: true; readonly reason: string; readonly indicator: Indicator } | { readonly ok: false; readonly message: string } {
  const reason = (obj.metadata.annotations?.[REVOKE_REQUEST.request] ?? '').trim();
  if (reason === '') return { ok: false, message: `give the reason as the value: kubectl annotate ti ${obj.metadata.name} ${REVOKE_REQUEST.request}="<why it is withdrawn>"` };
  if (reason.length > MAX_REVOKE_REASON) return { ok: false, message: `the reason is ${reason.length} characters; keep it under ${MAX_REVOKE_REASON + 1} (link a ticket for details)` };
  const phase = obj.status?.phase;
  if (phase !== 'Approved') return { ok: false, message: `only Approved indicators can be revoked; this one is ${phase ?? 'not yet reconciled'}` };
  const { type, value } = obj.spec;
  const norm = isIndicatorType(type) ? normalize(type, value) : undefined;
  if (norm === undefined || !norm.ok || indicatorObjectName(norm.indicator) !== obj.metadata.name) return { ok: false, message: `the spec (${type} ${JSON.stringify(value)}) does not name this object's indicator; it cannot be revoked from here` };
  return { ok: true, reason, indicator: norm.indicator };
}

/** Sends the revocations analysts request with annotations; see the module comment. */
export class RevocationRequests {
  readonly #o: RevocationRequestsOptions;
  #calls = 0;

  constructor(opts: RevocationRequestsOptions) {
    this.#o = opts;
  }

  /**
   * One pass over the namespace (on the first call and every `scanEvery` calls; the others return
   * zeros): every ThreatIndicator with a revoke annotation and no result is proposed (or answered
   * refused) and gets its result. Throws when the API server cannot be listed; a failure on one
   * object is logged, counted in `deferred` and retried. Not reentrant: call it from one loop.
   */
  async syncOnce(): Promise<RevocationReport> {
    const counts = { requests: 0, proposed: 0, refused: 0, deferred: 0 };
    const scan = this.#calls % Math.max(1, this.#o.scanEvery ?? PARTNER_DEFAULTS.revocationScanEvery) === 0;
    this.#calls += 1;
    if (!scan) return counts;
    for (const obj of await listFrom<ThreatIndicator>(this.#o.cache, this.#o.client, THREAT_INDICATORS, { namespace: this.#o.namespace })) {
      const a = obj.metadata.annotations;
      if (a?.[REVOKE_REQUEST.request] === undefined || a[REVOKE_REQUEST.result] !== undefined || obj.metadata.deletionTimestamp !== undefined) continue;
      counts.requests += 1;
      try {
        const outcome = await this.#handle(obj);
        if (outcome === undefined) {
          counts.deferred += 1;
          continue;
        }
        await this.#o.client.patch(THREAT_INDICATORS, obj.metadata.name, this.#o.namespace, { metadata: { annotations: { [REVOKE_REQUEST.result]: formatRevocationResult(outcome, this.#o.partnerId) } } });
        if (outcome.status === 'opened' || outcome.status === 'already-pending') counts.proposed += 1;
        else counts.refused += 1;
      } catch (err) {
        counts.deferred += 1;
        this.#o.log.warn('revocation request could not be handled; retrying on the next sync', { name: obj.metadata.name, namespace: this.#o.namespace, err });
      }
    }
    if (counts.requests > 0) this.#o.log.info('revocation requests sync', { namespace: this.#o.namespace, ...counts });
    return counts;
  }

  /** The outcome of one request; undefined when the sequencer could not be reached (try again). */
  async #handle(obj: ThreatIndicator): Promise<RevocationOutcome | undefined> {
    const name = obj.metadata.name;
    const req = revocationRequest(obj);
    if (!req.ok) {
      this.#o.log.warn('revocation request not sent', { name, why: req.message });
      return { status: 'refused', message: req.message };
    }
    const { indicator, reason } = req;
    const ack = await this.#propose(name, indicator);
    if (ack === undefined) return undefined;
    if (ack.status === 'refused') {
      this.#o.log.warn('revocation proposal refused by the sequencer', { name, reason: ack.reason, message: ack.message });
      return { status: 'refused', message: `the sequencer refused it (${ack.reason}): ${ack.message}` };
    }
    this.#o.log.info('revocation proposed', { name, value: indicator.value, subject: ack.subject, status: ack.status, reason });
    if (ack.status === 'already-admitted') return { status: 'refused', message: 'the sequencer answered already-admitted to a revocation; it does not speak this protocol version' };
    // The vote signs the subject derived here: a sequencer naming another round must not get this partner's approval for it.
    const subject = roundSubject('revoke', indicator);
    if (ack.subject !== subject) {
      const message = `the sequencer named round ${ack.subject} for this revocation, but its subject is ${subject}; not voting (report this sequencer)`;
      this.#o.onMisbehaviour?.('subject-mismatch', message);
      return { status: 'refused', message };
    }
    return { status: ack.status, subject, ...(ack.window !== undefined ? { closesAt: ack.window.closesAt } : {}), vote: await this.#approve(name, subject, reason) };
  }

  /** The sequencer's answer to the revocation proposal (a refusal included); undefined when it could not be reached. */
  async #propose(name: string, indicator: Indicator): Promise<ProposalResult | ItemRefusal | undefined> {
    try {
      const [ack] = await this.#o.sequencer.proposeBatch([{ kind: 'revoke', indicatorJson: indicatorCanonicalJson(indicator), proposerId: this.#o.partnerId, signature: signProposal(this.#o.key, 'revoke', indicator) }]);
      if (ack === undefined) throw new Error('the sequencer answered a one-proposal batch with no outcome');
      return ack.status === 'refused' ? { ...ack, message: ack.message.replace(/^[A-Za-z]+: [A-Z_]+: /, '') } : ack;
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal !== undefined) return { status: 'refused', ...refusal };
      this.#o.log.warn('revocation proposal not delivered; retrying on the next sync', { name, err });
      return undefined;
    }
  }

  /** Sends this partner's approve vote with the reason; says what happened to it. */
  async #approve(name: string, subject: string, reason: string): Promise<string> {
    if (!this.#o.isVoter()) return `not approved by ${this.#o.partnerId} (no voter role), so the reason is not recorded in the log`;
    try {
      const r = await this.#o.sequencer.vote(signVote(this.#o.key, { partnerId: this.#o.partnerId, digest: subject, decision: 'approve', signedAt: this.#o.now().toISOString(), reason }));
      const counts = `${r.approvals} approve, ${r.rejections} reject, ${r.required} required`;
      return r.status === 'approved' ? `approved with the reason; quorum reached (${counts}), log index ${r.logIndex ?? '?'}`
        : r.status === 'duplicate' ? `${this.#o.partnerId} had already voted on this round (${counts})`
          : `approve vote with the reason ${r.status} (${counts})`;
    } catch (err) {
      // The proposal stands either way; the analyst can still vote with threatmesh.io/vote.
      this.#o.log.warn('own approve vote on a revocation not counted', { name, subject, err });
      const refusal = refusalOf(err);
      return `own approve vote not counted (${refusal?.reason ?? 'unreachable'}): vote with threatmesh.io/vote=approve on this object`;
    }
  }

}

/** A permanent refusal (the sequencer judged the request), or undefined for transport trouble worth retrying. */
function refusalOf(err: unknown): { readonly reason: string; readonly message: string } | undefined {
  if (err instanceof ExchangeRefusal) return { reason: err.reason, message: err.message };
  if (err instanceof ExchangeCallError && err.reason !== undefined) return { reason: err.reason, message: err.message.replace(/^[A-Za-z]+: [A-Z_]+: /, '') };
  return undefined;
}
