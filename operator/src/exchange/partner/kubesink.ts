/**
 * The Kubernetes {@link EntrySink} of a partner's replica: every verified ADD entry becomes the
 * ThreatIndicator named by its digest in one namespace, with the signed votes of its quorum
 * certificate, quorum counts and log index in status. The phase it writes is the one the
 * ThreatIndicator controller computes from those votes with the cluster's voter registry
 * (`evaluateIndicator`), so the controller never flips it and the webhook never refuses it: when
 * the cluster's PartnerNodes do not prove the certificate, the object says so (not Approved) and
 * a warning is logged. Writes happen only when the owned fields differ, so re-applying is a no-op.
 *
 * A REVOKE entry writes its certificate to status.revocation (proposer's revocation signature,
 * window, revoke votes, log index) with the phase that proves: Revoked. A later ADD of the same
 * indicator (index above the revocation's) re-admits it: spec is immutable and carries the new
 * round's provenance, so the object is deleted and created again from the new entry. Entries are
 * positional: an entry older than what the object already reflects (the revoked ADD, a REVOKE
 * of an earlier admission) is skipped, so a replay never reactivates nor revokes wrongly.
 * A local proposal (this partner's ingest wrote it) keeps its spec unless that spec cannot prove
 * the entry (its provenance opens the voting window after the round's votes: another partner's
 * round, or this partner's clock ahead); then it is recreated from the log.
 *
 * Drift repair ({@link KubeIndicatorSink.repair}) compares the namespace's ThreatIndicators with
 * the partner's replicated records and re-applies what is missing or edited (revoked records
 * give Revoked objects). An Approved object
 * absent from the log is reported and logged, never deleted: it may be a local proposal whose
 * entry has not arrived yet, and deleting an analyst's object silently is worse than a warning.
 */
import { isDeepStrictEqual } from 'node:util';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { RevocationRecord, ThreatIndicator, ThreatIndicatorSpec, ThreatIndicatorStatus, VoteRecord } from '../../api/types.ts';
import { evaluateIndicator, type AdmissionPolicy } from '../../api/admission.ts';
import type { PartnerEntry } from '../../api/partners.ts';
import { indicatorObjectName } from '../../domain/canonical.ts';
import type { Indicator } from '../../domain/indicator.ts';
import type { Vote } from '../../domain/quorum.ts';
import { stixPattern } from '../../domain/stix.ts';
import type { Logger } from '../../log.ts';
import { ApiError, listFrom, type KubeClient } from '../../runtime/client.ts';
import type { CacheReader } from '../../runtime/types.ts';
import type { IndicatorRecord } from '../../store/indicators.ts';
import type { EntryWindow, IndicatorMeta } from '../../domain/entry.ts';
import type { EntrySink, VerifiedEntry } from '../../domain/stores.ts';
import { withMeta } from '../../api/specmeta.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';

/** What the log says about one admitted indicator: all a ThreatIndicator is built from. */
export interface LoggedIndicator {
  readonly indicator: Indicator;
  readonly logIndex: number;
  readonly proposerId: string;
  readonly proposalSignature: string;
  /** Protocol v2: the batch proposal's proof, when the proposal was signed in a batch. */
  readonly proposalBatch?: string;
  /** The metadata the proposer signed (TLP, confidence, labels, validity, source feed), when the entry has some. */
  readonly meta?: IndicatorMeta;
  readonly window: EntryWindow;
  readonly votes: readonly VoteRecord[];
  /** Present when the indicator was revoked after this admission: the REVOKE entry's certificate. */
  readonly revocation?: RevocationRecord;
}

/** Everything the sink is built from. */
export interface KubeSinkOptions {
  readonly client: KubeClient;
  /** The operator's ThreatIndicator informer: drift repair lists the namespace from its cache. @default none (list from the API server) */
  readonly cache?: CacheReader<ThreatIndicator>;
  /** Namespace of the partner's ThreatIndicators. */
  readonly namespace: string;
  /** The cluster's partners (the same registry the ThreatIndicator controller reads). */
  readonly voters: () => readonly PartnerEntry[];
  /** The controller's admission policy; must be the same so both compute the same phase. */
  readonly policy?: AdmissionPolicy;
  readonly now: () => Date;
  readonly log: Logger;
  /** Told about each verified entry the API server refuses to store (422), which the sink skips. @default none (logged only) */
  readonly onUnmaterialized?: (entry: VerifiedEntry, why: string) => void;
  /** Objects written at the same time by applyMany and repair (entries of one indicator stay in log order). @default PARTNER_DEFAULTS.kubeConcurrency */
  readonly concurrency?: number;
}


/** What {@link KubeIndicatorSink.ensure} did to one object. */
export type EnsureOutcome = 'created' | 'corrected' | 'unchanged';

/** What one drift repair did. */
export interface RepairReport {
  /** Objects that were missing and were created again. */
  readonly restored: number;
  /** Objects whose spec or owned status fields differed from the log and were rewritten. */
  readonly corrected: number;
  readonly unchanged: number;
  /** Records that cannot be rebuilt: stored without window and proposal signature, or revoked without the revocation certificate. */
  readonly skipped: number;
  /** Names of Approved objects with no record in the log (reported, not deleted). */
  readonly unlogged: readonly string[];
}

/** The status fields this sink owns; the controller's conditions and observedGeneration are left alone. */
type OwnedStatus = Pick<ThreatIndicatorStatus, 'phase' | 'votes' | 'quorum' | 'logIndex' | 'revocation'>;

/** The logged form of a verified ADD entry. */
export function loggedFromEntry(entry: VerifiedEntry): LoggedIndicator {
  return {
    indicator: entry.indicator, logIndex: entry.index, proposerId: entry.proposerId, ...(entry.meta !== undefined ? { meta: entry.meta } : {}),
    proposalSignature: entry.proposalSignature, ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}), window: entry.window, votes: entry.votes.map(voteToRecord),
  };
}

/** The certificate of a verified REVOKE entry as status.revocation carries it. */
export function revocationFromEntry(entry: VerifiedEntry): RevocationRecord {
  return { logIndex: entry.index, proposerId: entry.proposerId, signature: entry.proposalSignature, window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt }, votes: entry.votes.map(voteToRecord) };
}

/**
 * The logged form of a replicated MongoDB record (a revoked one with its revocation), or
 * undefined when it lacks window and proposal signature, or is revoked without the revocation's
 * certificate (stored before they were kept).
 */
export function loggedFromRecord(r: IndicatorRecord): LoggedIndicator | undefined {
  if (r.window === undefined || r.proposalSignature === undefined) return undefined;
  if (r.state === 'revoked' && r.revocation === undefined) return undefined;
  const base = { indicator: { type: r.type as Indicator['type'], value: r.value }, logIndex: r.logIndex, proposerId: r.proposerId, proposalSignature: r.proposalSignature, ...(r.proposalBatch !== undefined ? { proposalBatch: r.proposalBatch } : {}), ...(r.meta !== undefined ? { meta: r.meta } : {}), window: r.window, votes: r.votes.map(recordToVote) };
  if (r.state !== 'revoked' || r.revocation === undefined) return base;
  const rv = r.revocation;
  return { ...base, revocation: { logIndex: rv.logIndex, proposerId: rv.proposerId, signature: rv.proposalSignature, window: { opensAt: rv.window.opensAt, closesAt: rv.window.closesAt }, votes: rv.votes.map(recordToVote) } };
}

function recordToVote(v: Record<string, string>): VoteRecord {
  return {
    partnerId: v['partnerId'] ?? '', decision: v['decision'] === 'reject' ? 'reject' : 'approve', signedAt: v['signedAt'] ?? '', signature: v['signature'] ?? '',
    ...(v['reason'] !== undefined ? { reason: v['reason'] } : {}),
    // A protocol v2 batch vote verifies only with its proof.
    ...(v['batch'] !== undefined ? { batch: v['batch'] } : {}),
  };
}

/** The log index an object reflects: its revocation's, else its admission's; -1 for none. */
function position(s: ThreatIndicatorStatus | undefined): number {
  return Math.max(s?.logIndex ?? -1, s?.revocation?.logIndex ?? -1);
}

/**
 * The spec a logged indicator gets: type, value, STIX pattern, provenance (proposedAt opens the
 * voting window the controller checks), the proposal signature, and the signed metadata
 * (tlp, confidence, labels, validFrom, validUntil; source as provenance.feed).
 */
export function specOf(l: Pick<LoggedIndicator, 'indicator' | 'proposerId' | 'proposalSignature' | 'proposalBatch' | 'window' | 'meta'>): ThreatIndicatorSpec {
  return withMeta({
    type: l.indicator.type, value: l.indicator.value, pattern: stixPattern(l.indicator),
    provenance: { partner: l.proposerId, proposedAt: l.window.opensAt },
    proposal: { partnerId: l.proposerId, signature: l.proposalSignature, ...(l.proposalBatch !== undefined ? { batch: l.proposalBatch } : {}) },
  }, l.meta);
}

/** The ThreatIndicator sink of a partner's replica, with drift repair. */
export class KubeIndicatorSink implements EntrySink {
  readonly #o: KubeSinkOptions;

  constructor(opts: KubeSinkOptions) {
    this.#o = opts;
  }

  /**
   * Applies one verified entry; idempotent (no write when the object already matches). An entry
   * the API server refuses as invalid (422: it exceeds the CRD, as entries logged before the
   * exchange enforced the CRD's bounds can) is reported through `onUnmaterialized` and skipped, so
   * one entry never wedges replication; other errors throw (retried). A REJECT entry writes
   * nothing: a rejected indicator never becomes a ThreatIndicator from the log (it lives in the
   * partner database's `rejections` only).
   */
  async apply(entry: VerifiedEntry): Promise<void> {
    if (entry.kind === 'reject') return;
    try {
      if (entry.kind === 'revoke') await this.revoke(entry);
      else await this.ensure(loggedFromEntry(entry));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 422)) throw err;
      this.#o.log.error('verified log entry cannot be written as a ThreatIndicator; skipped (it stays in the partner database)', { index: entry.index, digest: entry.digest, detail: err.message });
      this.#o.onUnmaterialized?.(entry, err.message);
    }
  }

  /**
   * Writes a REVOKE entry's certificate to the indicator's status.revocation with the phase it
   * proves (Revoked), creating the object when missing. Skipped when the object already reflects
   * a later entry (re-admitted since). Idempotent; a create that loses a race with another writer
   * is judged again against the object that writer made.
   */
  revoke(entry: VerifiedEntry): Promise<EnsureOutcome | 'stale'> {
    return againIfRaced(() => this.#revoke(entry));
  }

  async #revoke(entry: VerifiedEntry): Promise<EnsureOutcome | 'stale'> {
    const name = indicatorObjectName(entry.indicator);
    const { client, namespace } = this.#o;
    let current = await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace);
    if (current !== undefined && entry.index < position(current.status)) {
      this.#o.log.info('revocation skipped: the ThreatIndicator reflects a later log entry', { name, index: entry.index, at: position(current.status) });
      return 'stale';
    }
    let outcome: EnsureOutcome = 'unchanged';
    if (current === undefined) {
      const spec: ThreatIndicatorSpec = { type: entry.indicator.type, value: entry.indicator.value, pattern: stixPattern(entry.indicator) };
      current = await client.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace }, spec });
      outcome = 'created';
    }
    const have = owned(current.status);
    const want = this.#judge(current, { ...have, revocation: revocationFromEntry(entry) }, 'Revoked');
    if (isDeepStrictEqual(have, want)) return outcome;
    await client.patchStatus(THREAT_INDICATORS, name, namespace, { status: want });
    return outcome === 'unchanged' ? 'corrected' : outcome;
  }

  /** Applies entries with bounded concurrency; the entries of one indicator are applied in log order. */
  async applyMany(entries: readonly VerifiedEntry[]): Promise<void> {
    const byName = new Map<string, VerifiedEntry[]>();
    for (const e of entries) {
      const name = indicatorObjectName(e.indicator);
      const list = byName.get(name);
      if (list) list.push(e);
      else byName.set(name, [e]);
    }
    await this.#pool([...byName.values()], async (list) => {
      for (const e of list) await this.apply(e);
    });
  }

  /**
   * Writes replicated records as {@link applyMany} writes entries (not authoritative: a record
   * older than what its object reflects changes nothing; a local proposal that proves the entry
   * keeps its spec). Records stored without what an object is built from are skipped (drift
   * repair reports them). Bounded concurrency; the first failure is thrown (the caller retries).
   */
  async restore(records: readonly IndicatorRecord[]): Promise<void> {
    await this.#pool(records, async (r) => {
      const l = loggedFromRecord(r);
      if (l !== undefined) await this.ensure(l);
    });
  }

  /**
   * Makes the object of `l` match the log: creates it when missing, recreates it when its
   * type or value differ or when `l` is a later admission (spec is immutable), patches the owned
   * status fields when they differ. An `l` older than what the object reflects (the ADD a
   * revocation withdrew) changes nothing: a replay never reactivates a revoked indicator.
   * `authoritative` (drift repair: `l` is the partner's latest record of the indicator) skips
   * that check, so a hand-edited log index cannot block the repair, and recreates the object
   * when its spec is of another admission round. A create that loses a race with another writer
   * (409) is judged again against the object that writer made.
   */
  ensure(l: LoggedIndicator, authoritative = false): Promise<EnsureOutcome> {
    return againIfRaced(() => this.#ensure(l, authoritative));
  }

  async #ensure(l: LoggedIndicator, authoritative: boolean): Promise<EnsureOutcome> {
    const name = indicatorObjectName(l.indicator);
    const { client, namespace } = this.#o;
    let current = await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace);
    if (!authoritative && current !== undefined && (l.revocation?.logIndex ?? l.logIndex) < position(current.status)) {
      this.#o.log.info('log entry skipped: the ThreatIndicator reflects a later log entry', { name, index: l.logIndex, at: position(current.status) });
      return 'unchanged';
    }
    let outcome: EnsureOutcome = 'unchanged';
    if (current !== undefined && mustRecreate(current, l, authoritative)) {
      await client.delete(THREAT_INDICATORS, name, namespace);
      current = undefined;
      outcome = 'corrected';
    }
    if (current === undefined) {
      current = await client.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace }, spec: specOf(l) });
      if (outcome === 'unchanged') outcome = 'created';
    }
    const { fields, expected } = logStatus(l);
    const adopted = await this.#adopt(current, l, fields, expected);
    if (adopted !== current) {
      current = adopted;
      outcome = 'corrected';
    }
    const want = this.#judge(current, fields, expected);
    if (isDeepStrictEqual(owned(current.status), want)) return outcome;
    await client.patchStatus(THREAT_INDICATORS, name, namespace, { status: want });
    return outcome === 'unchanged' ? 'corrected' : outcome;
  }

  /**
   * Drift repair: re-applies every active record whose object is missing or differs from the
   * log, and reports Approved objects of the namespace that no record explains.
   */
  async repair(records: readonly IndicatorRecord[]): Promise<RepairReport> {
    const counts = { restored: 0, corrected: 0, unchanged: 0, skipped: 0 };
    const logged = new Set(records.map((r) => indicatorObjectName({ type: r.type as Indicator['type'], value: r.value })));
    await this.#pool(records, async (r) => {
      const l = loggedFromRecord(r);
      const outcome = l === undefined ? 'skipped' : await this.ensure(l, true);
      counts[outcome === 'created' ? 'restored' : outcome] += 1;
    });
    const unlogged = (await listFrom<ThreatIndicator>(this.#o.cache, this.#o.client, THREAT_INDICATORS, { namespace: this.#o.namespace })).filter((o) => o.status?.phase === 'Approved' && !logged.has(o.metadata.name)).map((o) => o.metadata.name).sort();
    if (unlogged.length > 0) this.#o.log.warn('Approved ThreatIndicators that are not in the replicated log (left in place; check how they were written)', { namespace: this.#o.namespace, names: unlogged });
    const report = { ...counts, unlogged };
    this.#o.log.info('drift repair', { namespace: this.#o.namespace, ...counts, unlogged: unlogged.length });
    return report;
  }

  /**
   * A local proposal's spec opens the voting window at its own ingest time: another partner's
   * round (votes signed before it) or this partner's clock ahead would leave it unproven for good.
   * When the log's spec proves the entry and the local one does not, the object is recreated
   * from the log (the local proposal has done its job); otherwise `obj` is returned as it is.
   */
  async #adopt(obj: ThreatIndicator, l: LoggedIndicator, fields: OwnedStatus, expected: 'Approved' | 'Revoked'): Promise<ThreatIndicator> {
    if (!isLocalProposal(obj) || this.#proves(obj, fields, expected) || !this.#proves({ ...obj, spec: specOf(l) }, fields, expected)) return obj;
    const { client, namespace } = this.#o;
    await client.delete(THREAT_INDICATORS, obj.metadata.name, namespace);
    return client.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: obj.metadata.name, namespace }, spec: specOf(l) });
  }

  /** True when the controller would compute `expected` for `obj` with the log's `fields`. */
  #proves(obj: ThreatIndicator, fields: OwnedStatus, expected: 'Approved' | 'Revoked'): boolean {
    const ev = evaluateIndicator({ ...obj, status: { ...fields } }, this.#o.voters(), this.#o.now(), this.#o.policy);
    return ev.phase === expected || ev.phase === 'Expired';
  }

  /** The owned status of `obj` with the log's `fields`, phase and counts as the controller computes them; warns when that is not `expected`. */
  #judge(obj: ThreatIndicator, fields: OwnedStatus, expected: 'Approved' | 'Revoked'): OwnedStatus {
    const probe: ThreatIndicator = { ...obj, status: { ...fields } };
    const ev = evaluateIndicator(probe, this.#o.voters(), this.#o.now(), this.#o.policy);
    // A signed validUntil that has passed makes an admitted indicator Expired: proven, not a misconfiguration.
    if (ev.phase !== expected && ev.phase !== 'Expired') {
      this.#o.log.warn(`log entry not proven ${expected} by this cluster's PartnerNodes; register the network's voters`, { name: obj.metadata.name, index: fields.revocation?.logIndex ?? fields.logIndex, phase: ev.phase, detail: ev.message });
    }
    return { ...fields, phase: ev.phase, quorum: { required: ev.required, approvals: ev.approvals, rejections: ev.rejections, summary: `${ev.approvals}/${ev.required}` } };
  }

  async #pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      try {
        while (!failed && next < items.length) await work(items[next++]!);
      } catch (err) {
        // Stop the other workers too: the caller retries the whole batch.
        failed = true;
        throw err;
      }
    };
    const n = Math.max(1, Math.min(this.#o.concurrency ?? PARTNER_DEFAULTS.kubeConcurrency, items.length));
    await Promise.all(Array.from({ length: n }, worker));
  }

}

/**
 * Runs one read-then-write of an object again when its create answered 409: another writer
 * (drift repair and the working set at once, or this partner's ingest) created the object
 * between the read and the create. The second run judges the live object; a second conflict
 * is thrown, and the caller's batch is retried.
 */
async function againIfRaced<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    return write();
  }
}

function owned(s: ThreatIndicatorStatus | undefined): OwnedStatus {
  const pick: OwnedStatus = {};
  if (s?.votes !== undefined) pick.votes = s.votes;
  if (s?.logIndex !== undefined) pick.logIndex = s.logIndex;
  if (s?.revocation !== undefined) pick.revocation = s.revocation;
  if (s?.phase !== undefined) pick.phase = s.phase;
  if (s?.quorum !== undefined) pick.quorum = s.quorum;
  return pick;
}

/**
 * Spec is immutable: another indicator under the name, or another admission (new round, new
 * provenance) than the one a log-written object shows, needs a new object. Objects never
 * written from the log (local proposals) keep their spec.
 */
function mustRecreate(obj: ThreatIndicator, l: LoggedIndicator, authoritative: boolean): boolean {
  if (obj.spec.type !== l.indicator.type || obj.spec.value !== l.indicator.value) return true;
  const s = obj.status;
  if (s?.logIndex === undefined && s?.revocation === undefined) return false;
  if (!authoritative) return l.logIndex > position(s);
  return obj.spec.provenance?.proposedAt !== l.window.opensAt || obj.spec.proposal?.signature !== l.proposalSignature || obj.spec.proposal?.batch !== l.proposalBatch;
}

/** The status fields the log gives `l`, and the phase they must prove. */
function logStatus(l: LoggedIndicator): { fields: OwnedStatus; expected: 'Approved' | 'Revoked' } {
  return { fields: { votes: [...l.votes], logIndex: l.logIndex, ...(l.revocation ? { revocation: l.revocation } : {}) }, expected: l.revocation ? 'Revoked' : 'Approved' };
}

/** An object this partner's ingest created (never written from the log: no log index, no revocation). */
function isLocalProposal(obj: ThreatIndicator): boolean {
  return obj.status?.logIndex === undefined && obj.status?.revocation === undefined;
}

function voteToRecord(v: Vote): VoteRecord {
  return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature, ...(v.reason !== undefined ? { reason: v.reason } : {}), ...(v.batch !== undefined ? { batch: v.batch } : {}) };
}
