/**
 * Voting from the cluster, the Kubernetes way. {@link PendingMirror.syncOnce} mirrors every
 * pending ADD round of the sequencer whose proposal signature verifies as a Proposed
 * ThreatIndicator labelled `threatmesh.io/pending: "true"`, so analysts see proposals with
 * `kubectl get ti` before they are admitted. An analyst votes by annotating such an object
 * (`threatmesh.io/vote: approve|reject`, optional `threatmesh.io/vote-reason`); the next sync
 * signs the vote with this partner's key, sends it, and records the outcome in
 * `threatmesh.io/vote-result` and `threatmesh.io/voted-at`. The result annotation names the vote
 * value it answers, so a value is acted on once, across restarts; only metadata is ever patched
 * (the webhook forbids spec changes, not annotations).
 *
 * Open REVOKE rounds (revocations.ts, `threatmesh revoke`) whose revocation signature verifies are
 * voted on the same way, on the Approved object itself: the sync labels it pending and records
 * the round in `threatmesh.io/vote-round` (`revoke <subject> <opensAt>`). That annotation keys the
 * vote memory: when it names a new round, a vote already answered for an earlier round (the
 * admission) is cleared, so it can never count as a vote to revoke, and the analyst votes again.
 *
 * It owns no timer: the partner exchange calls syncOnce every few seconds.
 */
import type { ThreatIndicator, ThreatIndicatorSpec } from '../../api/types.ts';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import { indicatorObjectName } from '../../domain/canonical.ts';
import { signVote, type Vote, type VoteDecision, type Voter } from '../../domain/quorum.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import { ApiError, listFrom, type KubeClient } from '../../runtime/client.ts';
import type { CacheReader } from '../../runtime/types.ts';
import { ExchangeCallError } from '../protocol/client.ts';
import { specOf } from './kubesink.ts';
import { checkRound, type MisbehaviourReport } from './rounds.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';

/** The annotations and label of manual voting. */
export const MANUAL_VOTE = {
  /** Set by the analyst: `approve` or `reject`. */
  vote: 'threatmesh.io/vote',
  /** Set by the analyst, optional: why; signed with the vote and kept in the log. */
  reason: 'threatmesh.io/vote-reason',
  /** Set by the operator: `<status>: <message>`; names the vote value it answers. */
  result: 'threatmesh.io/vote-result',
  /** Set by the operator: when the vote was signed and sent (ISO 8601). */
  votedAt: 'threatmesh.io/voted-at',
  /** Set by the operator on mirrored proposals while their round is open. */
  pendingLabel: 'threatmesh.io/pending',
  /** Set by the operator on an Approved object when a REVOKE round of it opens: `revoke <subject> <opensAt>`; the vote and result belong to that round. */
  round: 'threatmesh.io/vote-round',
} as const;

/** What an analyst's vote annotation says. */
export type VoteAnnotation =
  | { readonly kind: 'none' }
  | { readonly kind: 'vote'; readonly decision: VoteDecision; readonly reason?: string }
  | { readonly kind: 'invalid'; readonly value: string };

/** The status word of a result annotation. */
export type ManualVoteStatus = VoteResult['status'] | 'refused' | 'invalid' | 'no-open-round';

/** What happened to one annotated vote, before it is written as text. */
export type ManualVoteOutcome =
  | { readonly status: VoteResult['status']; readonly decision: VoteDecision; readonly result: VoteResult; readonly revocation?: boolean }
  | { readonly status: 'refused'; readonly decision: VoteDecision; readonly why: string }
  | { readonly status: 'no-open-round'; readonly decision: VoteDecision; readonly revokePending: boolean }
  | { readonly status: 'invalid'; readonly value: string };

/** The calls the mirror makes on the sequencer (ExchangeClient implements them). */
export interface MirrorClient {
  listPending(): Promise<PendingRound[]>;
  vote(v: Vote): Promise<VoteResult>;
}

/** Everything a {@link PendingMirror} is built from. */
export interface PendingMirrorOptions {
  readonly client: KubeClient;
  /** The operator's ThreatIndicator informer: reads come from its cache. @default none (list from the API server) */
  readonly cache?: CacheReader<ThreatIndicator>;
  /** Namespace of this partner's ThreatIndicators (the operator's --exchange-namespace). */
  readonly namespace: string;
  readonly sequencer: MirrorClient;
  /** This partner's id: the votes' partnerId (must be the CN of the client certificate). */
  readonly partnerId: string;
  /** This partner's Ed25519 vote key. */
  readonly key: SigningKey;
  /** Known partners (live), to check each proposal's signature against its proposer's key. */
  readonly partners: () => ReadonlyArray<Pick<Voter, 'partnerId' | 'publicKey'>>;
  readonly now: () => Date;
  readonly log: Logger;
  /** Every how many syncs the whole namespace is scanned for vote annotations outside mirrored proposals (1: every sync). @default PARTNER_DEFAULTS.mirrorFullScanEvery */
  readonly fullScanEvery?: number;
  /**
   * At most this many objects are created per sync, soonest-closing rounds first, so one sync
   * stays short when thousands of rounds are open (the rest follow on later syncs). @default PARTNER_DEFAULTS.mirrorPerSync
   */
  readonly maxMirrorPerSync?: number;
  /** Rounds not to mirror, e.g. those this partner's automatic voter already decided. */
  readonly skip?: (round: PendingRound) => boolean;
  /** Told when a round proves the sequencer lied (its advertised subject is not the indicator's). @default none (logged only) */
  readonly onMisbehaviour?: MisbehaviourReport;
  /** Told of each analyst's vote the sequencer answered, with its round (decisions.ts). @default none */
  readonly onVoted?: (round: PendingRound, vote: Vote, result: VoteResult) => void;
}

/** What one {@link PendingMirror.syncOnce} did. */
export interface MirrorReport {
  /** Open rounds at the sequencer (ADD, and REVOKE rounds of objects in this namespace). */
  readonly pending: number;
  /** ThreatIndicators created for rounds that had none. */
  readonly mirrored: number;
  /** Rounds whose proposal signature does not verify (not mirrored, no vote sent). */
  readonly badSignature: number;
  /** Votes signed and sent. */
  readonly votes: number;
  /** Result annotations written (votes, invalid values, no open round). */
  readonly results: number;
  /** Pending labels removed from objects whose round has closed. */
  readonly unlabeled: number;
  /** Approved objects marked for a newly seen REVOKE round (pending label and vote-round set). */
  readonly revocations: number;
  /** Objects whose handling failed for a transient reason; retried next sync. */
  readonly deferred: number;
}

const MAX_MESSAGE = 1024;
const INVALID_PREFIX = 'use approve or reject, not ';

/** Parses an analyst's vote annotations: case and surrounding spaces are ignored; an empty reason is no reason. */
export function parseVoteAnnotation(annotations: Readonly<Record<string, string>> | undefined): VoteAnnotation {
  const raw = annotations?.[MANUAL_VOTE.vote];
  if (raw === undefined) return { kind: 'none' };
  const value = raw.trim().toLowerCase();
  if (value !== 'approve' && value !== 'reject') return { kind: 'invalid', value: raw.trim() };
  const reason = annotations?.[MANUAL_VOTE.reason]?.trim();
  return reason !== undefined && reason !== '' ? { kind: 'vote', decision: value, reason } : { kind: 'vote', decision: value };
}

/** The vote value a parsed annotation is remembered by (the decision, or the invalid text). */
export function answerKey(a: VoteAnnotation): string | undefined {
  return a.kind === 'vote' ? a.decision : a.kind === 'invalid' ? a.value : undefined;
}

/** The text of the `vote-result` annotation: `<status>: <message>`, the message naming the vote value it answers. */
export function formatVoteResult(o: ManualVoteOutcome): string {
  return `${o.status}: ${clip(resultMessage(o))}`;
}

function resultMessage(o: ManualVoteOutcome): string {
  if (o.status === 'invalid') return `${INVALID_PREFIX}${JSON.stringify(o.value)}`;
  if (o.status === 'refused') return `${o.decision} refused: ${o.why}`;
  if (o.status === 'no-open-round') {
    const revoke = o.revokePending ? '; a revocation round is open: vote on it with `threatmesh vote approve|reject <subject>`' : '';
    return `${o.decision} not sent: the sequencer has no open round for this indicator (already decided, expired or never proposed)${revoke}`;
  }
  const r = o.result;
  const counts = `${r.approvals} approve, ${r.rejections} reject, ${r.required} required`;
  const on = o.revocation === true ? ' on the revocation' : '';
  switch (o.status) {
    case 'approved': return `${o.decision} counted${on}; quorum reached (${counts}), ${o.revocation === true ? 'revoked at ' : ''}log index ${r.logIndex ?? '?'}`;
    case 'rejected': return `${o.decision} counted${on}; quorum can no longer be reached (${counts})`;
    case 'duplicate': return `${o.decision} not counted again: this partner already voted on this round (${counts})`;
    case 'counted': return `${o.decision} counted${on}; quorum not reached yet (${counts})`;
  }
}

/** The vote value a `vote-result` annotation answers, or undefined when it is missing or not ours. */
export function answeredBy(result: string | undefined): string | undefined {
  const m = result === undefined ? null : /^([a-z-]+): (.*)$/s.exec(result);
  if (m === null) return undefined;
  const [, status, message] = m as unknown as [string, string, string];
  if (status === 'invalid') {
    if (!message.startsWith(INVALID_PREFIX)) return undefined;
    try {
      const v: unknown = JSON.parse(message.slice(INVALID_PREFIX.length));
      return typeof v === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }
  const decision = message.split(' ', 1)[0];
  return decision === 'approve' || decision === 'reject' ? decision : undefined;
}

/** True when the object carries a vote annotation that its result annotation does not answer yet. */
export function needsAnswer(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const key = answerKey(parseVoteAnnotation(annotations));
  return key !== undefined && answeredBy(annotations?.[MANUAL_VOTE.result]) !== key;
}

/** The spec of a mirrored proposal: the spec the Kubernetes sink writes for the admitted entry, signed metadata included. */
export function pendingSpec(round: PendingRound): ThreatIndicatorSpec {
  return specOf({ indicator: round.indicator, proposerId: round.proposerId, proposalSignature: round.signature, ...(round.batch !== undefined ? { proposalBatch: round.batch } : {}), window: round.window, meta: round.meta });
}

function clip(s: string): string {
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`;
}

/** The `vote-round` annotation value of a round: kind, subject and window start identify it, re-openings included. */
export function roundKey(round: Pick<PendingRound, 'kind' | 'subject' | 'window'>): string {
  return `${round.kind} ${round.subject} ${round.window.opensAt}`;
}

/** What one sync knows about the sequencer's rounds, by object name. */
interface RoundView {
  /** Open ADD rounds whose proposal verifies. */
  readonly open: ReadonlyMap<string, PendingRound>;
  /** Open rounds (either kind) that do not check out (rounds.ts checkRound): why, by name. */
  readonly suspect: ReadonlyMap<string, string>;
  /** Open REVOKE rounds whose revocation signature verifies. */
  readonly revokes: ReadonlyMap<string, PendingRound>;
  /** Names with an open REVOKE round. */
  readonly revoking: ReadonlySet<string>;
}

/** An outcome and, when a vote went out, when it was signed. */
interface Answer {
  readonly outcome: ManualVoteOutcome;
  readonly sentAt?: string;
}

type Counts = { -readonly [K in keyof MirrorReport]: MirrorReport[K] };

/** Mirrors pending proposals into the cluster and sends analysts' annotated votes; see the module comment. */
export class PendingMirror {
  readonly #o: PendingMirrorOptions;
  /** Subjects already warned about (bad proposal signature), pruned to open rounds. */
  readonly #warned = new Set<string>();
  #syncs = 0;

  constructor(opts: PendingMirrorOptions) {
    this.#o = opts;
  }

  /**
   * One pass: list the pending rounds, create the missing mirrored proposals, answer unanswered
   * vote annotations, and drop the pending label of objects whose round has closed. Throws when
   * the sequencer or the API server cannot be listed; a failure on one object is logged and
   * counted in `deferred`, and retried on the next call. Not reentrant: call it from one loop.
   */
  async syncOnce(): Promise<MirrorReport> {
    const view = this.#view(await this.#o.sequencer.listPending());
    const full = this.#syncs % Math.max(1, this.#o.fullScanEvery ?? PARTNER_DEFAULTS.mirrorFullScanEvery) === 0;
    this.#syncs += 1;
    const listed = await listFrom<ThreatIndicator>(this.#o.cache, this.#o.client, THREAT_INDICATORS, { namespace: this.#o.namespace, ...(full ? {} : { labels: { [MANUAL_VOTE.pendingLabel]: 'true' } }) });
    const objects = new Map(listed.map((o) => [o.metadata.name, o]));
    const counts: Counts = { pending: view.open.size + view.suspect.size + view.revokes.size, mirrored: 0, badSignature: view.suspect.size, votes: 0, results: 0, unlabeled: 0, revocations: 0, deferred: 0 };
    const missing = [...view.open].filter(([name, round]) => !objects.has(name) && this.#o.skip?.(round) !== true)
      .sort(([, a], [, b]) => a.window.closesAt.localeCompare(b.window.closesAt))
      .slice(0, this.#o.maxMirrorPerSync ?? PARTNER_DEFAULTS.mirrorPerSync);
    for (const [name, round] of missing) {
      const obj = await this.#guard(counts, name, () => this.#ensure(name, round, counts));
      if (obj !== undefined) objects.set(name, obj);
    }
    for (const [name, round] of view.revokes) {
      const obj = await this.#guard(counts, name, () => this.#markRevocation(objects.get(name), name, round, counts));
      if (obj !== undefined) objects.set(name, obj);
      else objects.delete(name);
    }
    for (const obj of objects.values()) await this.#guard(counts, obj.metadata.name, () => this.#answer(obj, view, counts));
    if (counts.mirrored + counts.votes + counts.results + counts.unlabeled + counts.revocations + counts.deferred > 0) this.#o.log.info('pending mirror sync', { namespace: this.#o.namespace, ...counts });
    return counts;
  }

  #view(rounds: readonly PendingRound[]): RoundView {
    const open = new Map<string, PendingRound>();
    const suspect = new Map<string, string>();
    const revokes = new Map<string, PendingRound>();
    const revoking = new Set<string>();
    const partners = this.#o.partners();
    const refused: Array<{ round: PendingRound; reason: string; why: string }> = [];
    for (const round of rounds) {
      const name = indicatorObjectName(round.indicator);
      if (round.kind === 'revoke') revoking.add(name);
      const checked = checkRound(round, partners);
      if (checked.ok) (round.kind === 'revoke' ? revokes : open).set(name, round);
      else {
        suspect.set(name, checked.message);
        refused.push({ round, reason: checked.reason, why: checked.message });
      }
    }
    this.#warnSuspects(refused);
    return { open, suspect, revokes, revoking };
  }

  // Each refused round is warned about (and a lying sequencer reported) once while it stays open.
  #warnSuspects(refused: ReadonlyArray<{ round: PendingRound; reason: string; why: string }>): void {
    const subjects = new Set(refused.map((r) => r.round.subject));
    for (const s of this.#warned) if (!subjects.has(s)) this.#warned.delete(s);
    for (const { round: r, reason, why } of refused) {
      if (this.#warned.has(r.subject)) continue;
      this.#warned.add(r.subject);
      const msg = reason === 'subject-mismatch' ? 'pending round whose advertised subject is not its indicator\'s: the sequencer misbehaves; not mirrored, no vote sent' : 'pending round with a proposal signature that does not verify against the proposer\'s known key; not mirrored, no vote sent';
      this.#o.log.warn(msg, { subject: r.subject, proposer: r.proposerId, name: indicatorObjectName(r.indicator), reason, detail: why });
      if (reason === 'subject-mismatch') this.#o.onMisbehaviour?.(reason, why);
    }
  }

  /** The object of an open round: fetched when it exists unlabelled (a local proposal), else created. */
  async #ensure(name: string, round: PendingRound, counts: Counts): Promise<ThreatIndicator> {
    const { client, namespace } = this.#o;
    const existing = await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace);
    if (existing !== undefined) return existing;
    const obj: ThreatIndicator = {
      apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator',
      metadata: { name, namespace, labels: { [MANUAL_VOTE.pendingLabel]: 'true' } },
      spec: pendingSpec(round),
    };
    let created: ThreatIndicator;
    try {
      created = await client.create<ThreatIndicator>(THREAT_INDICATORS, obj);
    } catch (err) {
      // Written meanwhile by the replica or an ingest job: theirs stands.
      if (err instanceof ApiError && err.status === 409) return (await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace)) ?? obj;
      throw err;
    }
    counts.mirrored += 1;
    this.#o.log.info('mirrored pending proposal', { name, value: round.indicator.value, proposer: round.proposerId, closesAt: round.window.closesAt });
    // So `kubectl get ti` shows Proposed even before the ThreatIndicator controller reconciles it.
    return client.patchStatus<ThreatIndicator>(THREAT_INDICATORS, name, namespace, { status: { phase: 'Proposed' } }).catch((err: unknown) => {
      this.#o.log.debug('could not set phase Proposed on a mirrored proposal; the ThreatIndicator controller sets it', { name, err });
      return created;
    });
  }

  /**
   * Marks the object of an open REVOKE round for voting: pending label, and the round in
   * `vote-round`; a vote answered for an earlier round is cleared with it. Guarded by the
   * resourceVersion read, so an analyst's concurrent vote is never erased (409: next sync).
   * Returns the object as it now is, or undefined when this cluster has no such object.
   */
  async #markRevocation(listed: ThreatIndicator | undefined, name: string, round: PendingRound, counts: Counts): Promise<ThreatIndicator | undefined> {
    const { client, namespace } = this.#o;
    const obj = listed ?? await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace);
    if (obj === undefined || obj.metadata.deletionTimestamp !== undefined) return undefined;
    const key = roundKey(round);
    const a = obj.metadata.annotations;
    if (a?.[MANUAL_VOTE.round] === key) return obj;
    const stale = a?.[MANUAL_VOTE.vote] !== undefined && !needsAnswer(a);
    const cleared = stale ? { [MANUAL_VOTE.vote]: null, [MANUAL_VOTE.reason]: null, [MANUAL_VOTE.result]: null, [MANUAL_VOTE.votedAt]: null } : {};
    const marked = await client.patch<ThreatIndicator>(THREAT_INDICATORS, name, namespace, {
      metadata: { resourceVersion: obj.metadata.resourceVersion, labels: { [MANUAL_VOTE.pendingLabel]: 'true' }, annotations: { [MANUAL_VOTE.round]: key, ...cleared } },
    });
    counts.revocations += 1;
    this.#o.log.info('revocation round open for a ThreatIndicator: analysts vote with the vote annotation', { name, subject: round.subject, proposer: round.proposerId, closesAt: round.window.closesAt, clearedEarlierVote: stale });
    return marked;
  }

  async #answer(obj: ThreatIndicator, view: RoundView, counts: Counts): Promise<void> {
    const name = obj.metadata.name;
    if (obj.metadata.deletionTimestamp !== undefined) return;
    const metadata: Record<string, unknown> = {};
    if (needsAnswer(obj.metadata.annotations)) {
      const answer = await this.#decide(obj, view);
      if (answer === undefined) {
        counts.deferred += 1;
        return;
      }
      metadata['annotations'] = { [MANUAL_VOTE.result]: formatVoteResult(answer.outcome), ...(answer.sentAt !== undefined ? { [MANUAL_VOTE.votedAt]: answer.sentAt } : {}) };
      counts.results += 1;
      if (answer.sentAt !== undefined) counts.votes += 1;
    }
    if (obj.metadata.labels?.[MANUAL_VOTE.pendingLabel] !== undefined && !view.open.has(name) && !view.suspect.has(name) && !view.revokes.has(name)) {
      metadata['labels'] = { [MANUAL_VOTE.pendingLabel]: null };
      counts.unlabeled += 1;
    }
    if (Object.keys(metadata).length > 0) await this.#o.client.patch(THREAT_INDICATORS, name, this.#o.namespace, { metadata });
  }

  /** The answer to an unanswered vote annotation, with when the vote was sent (if it was); undefined when the sequencer could not be reached (try again). */
  async #decide(obj: ThreatIndicator, view: RoundView): Promise<Answer | undefined> {
    const name = obj.metadata.name;
    const a = parseVoteAnnotation(obj.metadata.annotations);
    if (a.kind === 'none') return undefined;
    if (a.kind === 'invalid') {
      this.#o.log.warn('invalid vote annotation; use approve or reject', { name, annotation: MANUAL_VOTE.vote, value: a.value });
      return { outcome: { status: 'invalid', value: a.value } };
    }
    const suspect = view.suspect.get(name);
    if (suspect !== undefined) return { outcome: { status: 'refused', decision: a.decision, why: `not sent: ${suspect}` } };
    const revoke = view.revokes.get(name);
    // Not marked for this round yet: the vote may belong to an earlier round; decide after marking.
    if (revoke !== undefined) return obj.metadata.annotations?.[MANUAL_VOTE.round] === roundKey(revoke) ? this.#send(name, revoke, a) : undefined;
    const round = view.open.get(name);
    if (round === undefined) return { outcome: { status: 'no-open-round', decision: a.decision, revokePending: view.revoking.has(name) } };
    return this.#send(name, round, a);
  }

  async #send(name: string, round: PendingRound, a: Extract<VoteAnnotation, { kind: 'vote' }>): Promise<Answer | undefined> {
    const sentAt = this.#o.now().toISOString();
    const fields = { partnerId: this.#o.partnerId, digest: round.subject, decision: a.decision, signedAt: sentAt };
    const vote = signVote(this.#o.key, a.reason !== undefined ? { ...fields, reason: a.reason } : fields);
    try {
      const result = await this.#o.sequencer.vote(vote);
      this.#o.onVoted?.(round, vote, result);
      this.#o.log.info('manual vote sent', { name, subject: round.subject, decision: a.decision, status: result.status });
      return { outcome: { status: result.status, decision: a.decision, result, ...(round.kind === 'revoke' ? { revocation: true } : {}) }, sentAt };
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal === undefined) {
        this.#o.log.warn('manual vote not delivered; retrying on the next sync', { name, subject: round.subject, err });
        return undefined;
      }
      this.#o.log.warn('manual vote refused by the sequencer', { name, subject: round.subject, reason: refusal.reason, message: refusal.message });
      // The round closed between listing and voting.
      if (refusal.reason === 'unknown-proposal') return { outcome: { status: 'no-open-round', decision: a.decision, revokePending: false } };
      return { outcome: { status: 'refused', decision: a.decision, why: `the sequencer refused it (${refusal.reason}): ${refusal.message}` }, sentAt };
    }
  }

  async #guard<T>(counts: Counts, name: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      counts.deferred += 1;
      this.#o.log.warn('pending mirror could not handle a ThreatIndicator; retrying on the next sync', { name, namespace: this.#o.namespace, err });
      return undefined;
    }
  }

}

/** A permanent refusal (the sequencer judged the vote), or undefined for transport trouble worth retrying. */
function refusalOf(err: unknown): { readonly reason: string; readonly message: string } | undefined {
  if (err instanceof ExchangeRefusal) return { reason: err.reason, message: err.message };
  if (err instanceof ExchangeCallError && err.reason !== undefined) return { reason: err.reason, message: err.message };
  return undefined;
}
