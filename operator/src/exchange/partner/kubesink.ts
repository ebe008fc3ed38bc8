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
 * A local proposal (this partner's ingest wrote it) of the admitted proposal keeps its spec unless
 * that spec cannot prove the entry (this partner's clock ahead opened its window after the votes);
 * then it is recreated from the log. A local proposal of another round (two partners ingested the
 * indicator, the other one's proposal was admitted) is always recreated from the log: its
 * provenance, proposal and signed metadata are not the log's, even where its window proves the votes.
 *
 * Requests per object (docs/adr/2026-12-07-cluster-write-requests.md): a write starts from what
 * is known without asking (the informer cache, drift repair's one list, this call's own earlier
 * writes): an object not known is created straight away (a 409 means it exists: it is read once
 * and judged), a known one that matches is left alone, and one that differs gets one status
 * patch guarded by the resourceVersion it was judged on (a 409 means someone wrote it since:
 * it is read once and judged again). A new object costs a create and a status patch; an
 * existing one a patch or nothing. Deletes (a new admission, a local proposal that cannot prove
 * the entry) are decided only on a fresh read.
 *
 * Drift repair ({@link KubeIndicatorSink.repair}) compares the namespace's ThreatIndicators (one
 * list, or the cache) with the partner's replicated records and writes only what is missing or
 * edited (revoked records give Revoked objects). An Approved object
 * absent from the log is reported and logged, never deleted: it may be a local proposal whose
 * entry has not arrived yet, and deleting an analyst's object silently is worse than a warning.
 */
import { isDeepStrictEqual } from 'node:util';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { ThreatIndicator, ThreatIndicatorSpec } from '../../api/types.ts';
import { evaluateIndicator, type AdmissionPolicy, type Evaluation } from '../../api/admission.ts';
import type { PartnerEntry } from '../../api/partners.ts';
import { indicatorObjectName } from '../../domain/canonical.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { stixPattern } from '../../domain/stix.ts';
import type { Logger } from '../../log.ts';
import { ApiError, asRead, listFrom, type KubeClient } from '../../runtime/client.ts';
import type { CacheReader } from '../../runtime/types.ts';
import type { IndicatorRecord } from '../../store/indicators.ts';
import type { EntrySink, VerifiedEntry } from '../../domain/stores.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';
import {
  isLocalProposal, localProposalOf, loggedFromEntry, loggedFromRecord, logStatus, mustRecreate, owned, position, revocationFromEntry, sameProposal, specOf,
  type LoggedIndicator, type OwnedStatus,
} from './kubelogged.ts';
import { RepairTally, type EnsureOutcome, type RepairReport } from './repairtally.ts';

export { loggedFromEntry, loggedFromRecord, revocationFromEntry, specOf, type LoggedIndicator } from './kubelogged.ts';
export { RESTORED_NAMES_LOGGED, type EnsureOutcome, type RepairReport } from './repairtally.ts';

/** Everything the sink is built from. */
export interface KubeSinkOptions {
  readonly client: KubeClient;
  /** The operator's ThreatIndicator informer: writes start from its objects instead of a GET, and drift repair lists the namespace from it. @default none (create first; list from the API server) */
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

/** Thrown by {@link KubeIndicatorSink.applyMany} and {@link KubeIndicatorSink.restore} when their signal aborted before every item was written. */
export class WriteStopped extends Error {
  constructor() {
    super('cluster writes stopped before the batch was written');
    this.name = 'WriteStopped';
  }
}

/**
 * What one write starts from: the object as known without a request (`fresh` false: the cache,
 * a repair's list, an earlier write of this call) or as just read or written (`fresh` true).
 */
interface Base {
  readonly obj: Readonly<ThreatIndicator> | undefined;
  readonly fresh: boolean;
}

/** Objects this call wrote or listed, by name (fresher than the cache for them). */
type Seen = Map<string, Readonly<ThreatIndicator>>;

/** A decision (a delete) that must not rest on a cached object: the write is judged again from a GET. */
const NEEDS_FRESH = new Error('needs a fresh read');


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
    await this.#apply(entry, new Map());
  }

  async #apply(entry: VerifiedEntry, seen: Seen): Promise<void> {
    if (entry.kind === 'reject') return;
    try {
      if (entry.kind === 'revoke') await this.#written(indicatorObjectName(entry.indicator), seen, (base) => this.#revoke(entry, base, seen));
      else await this.#written(indicatorObjectName(entry.indicator), seen, (base) => this.#ensure(loggedFromEntry(entry), false, base, seen));
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
    const seen: Seen = new Map();
    return this.#written(indicatorObjectName(entry.indicator), seen, (base) => this.#revoke(entry, base, seen));
  }

  async #revoke(entry: VerifiedEntry, base: Base, seen: Seen): Promise<EnsureOutcome | 'stale'> {
    const name = indicatorObjectName(entry.indicator);
    let { obj: current, fresh } = base;
    if (current !== undefined && entry.index < position(current.status)) {
      this.#o.log.info('revocation skipped: the ThreatIndicator reflects a later log entry', { name, index: entry.index, at: position(current.status) });
      return 'stale';
    }
    let outcome: EnsureOutcome = 'unchanged';
    if (current === undefined) {
      current = await this.#create(name, { type: entry.indicator.type, value: entry.indicator.value, pattern: stixPattern(entry.indicator) }, seen);
      fresh = true;
      outcome = 'created';
    }
    const have = owned(current.status);
    const want = this.#judge(current, { ...have, revocation: revocationFromEntry(entry) }, 'Revoked');
    if (isDeepStrictEqual(have, want)) return outcome;
    await this.#patchStatus(current, want, fresh, seen);
    return outcome === 'unchanged' ? 'corrected' : outcome;
  }

  /** Applies entries with bounded concurrency; the entries of one indicator are applied in log order. Stops between objects once `signal` aborts ({@link WriteStopped}). */
  async applyMany(entries: readonly VerifiedEntry[], signal?: AbortSignal): Promise<void> {
    const byName = new Map<string, VerifiedEntry[]>();
    for (const e of entries) {
      const name = indicatorObjectName(e.indicator);
      const list = byName.get(name);
      if (list) list.push(e);
      else byName.set(name, [e]);
    }
    const seen: Seen = new Map();
    await this.#pool([...byName.values()], async (list) => {
      for (const e of list) await this.#apply(e, seen);
    }, signal);
  }

  /**
   * Writes replicated records as {@link applyMany} writes entries (not authoritative: a record
   * older than what its object reflects changes nothing; a local proposal that proves the entry
   * keeps its spec). Records stored without what an object is built from are skipped (drift
   * repair reports them). Bounded concurrency; the first failure is thrown (the caller retries).
   */
  async restore(records: readonly IndicatorRecord[], signal?: AbortSignal): Promise<void> {
    const seen: Seen = new Map();
    await this.#pool(records, async (r) => {
      const l = loggedFromRecord(r);
      if (l !== undefined) await this.#ensureSeen(l, false, seen);
    }, signal);
  }

  /**
   * Makes the object of `l` match the log: creates it when missing, recreates it when its
   * type or value differ or when `l` is a later admission (spec is immutable), patches the owned
   * status fields when they differ. An `l` older than what the object reflects (the ADD a
   * revocation withdrew) changes nothing: a replay never reactivates a revoked indicator.
   * `authoritative` (drift repair: `l` is the partner's latest record of the indicator) skips
   * that check, so a hand-edited log index cannot block the repair, and recreates the object
   * when its spec is of another admission round (a local proposal of this admission that proves
   * it is kept, as the working set keeps it). A create that loses a race with another writer
   * (409) is judged again against the object that writer made.
   */
  ensure(l: LoggedIndicator, authoritative = false): Promise<EnsureOutcome> {
    return this.#ensureSeen(l, authoritative, new Map());
  }

  #ensureSeen(l: LoggedIndicator, authoritative: boolean, seen: Seen): Promise<EnsureOutcome> {
    return this.#written(indicatorObjectName(l.indicator), seen, (base) => this.#ensure(l, authoritative, base, seen));
  }

  async #ensure(l: LoggedIndicator, authoritative: boolean, base: Base, seen: Seen): Promise<EnsureOutcome> {
    const name = indicatorObjectName(l.indicator);
    let { obj: current, fresh } = base;
    if (!authoritative && current !== undefined && (l.revocation?.logIndex ?? l.logIndex) < position(current.status)) {
      this.#o.log.info('log entry skipped: the ThreatIndicator reflects a later log entry', { name, index: l.logIndex, at: position(current.status) });
      return 'unchanged';
    }
    const { fields, expected } = logStatus(l);
    let outcome: EnsureOutcome = 'unchanged';
    if (current !== undefined && this.#mustRecreate(current, l, authoritative, fields, expected)) {
      if (!fresh) throw NEEDS_FRESH;
      await this.#deleteAsRead(current);
      seen.delete(name);
      current = undefined;
      outcome = 'corrected';
    }
    if (current === undefined) {
      current = await this.#create(name, specOf(l), seen);
      fresh = true;
      if (outcome === 'unchanged') outcome = 'created';
    }
    const adopted = await this.#adopt(current, l, { fields, expected }, fresh, seen);
    if (adopted.obj !== current) {
      current = adopted.obj;
      fresh = true;
      outcome = 'corrected';
    }
    const want = this.#judge(current, fields, expected, adopted.ev);
    if (isDeepStrictEqual(owned(current.status), want)) return outcome;
    await this.#patchStatus(current, want, fresh, seen);
    return outcome === 'unchanged' ? 'corrected' : outcome;
  }

  /**
   * Drift repair: writes every record whose object is missing or differs from the log, judged
   * against the namespace's objects as the cache holds them (or as one list returns them, or as
   * `objects` gives them), with no read per record; reports Approved objects of the namespace
   * that no record explains. A record whose write fails does not stop the others: after every
   * record was tried, the first failure is thrown. Once `signal` aborts it stops between records
   * ({@link WriteStopped}), logging what it did so far.
   */
  async repair(records: readonly IndicatorRecord[], objects?: ReadonlyArray<Readonly<ThreatIndicator>>, signal?: AbortSignal): Promise<RepairReport> {
    const tally = new RepairTally();
    const listed = objects ?? await listFrom<ThreatIndicator>(this.#o.cache, this.#o.client, THREAT_INDICATORS, { namespace: this.#o.namespace });
    const seen: Seen = new Map(listed.map((o) => [o.metadata.name, o]));
    const logged = new Set(records.map((r) => indicatorObjectName({ type: r.type as Indicator['type'], value: r.value })));
    // The caller needs why the first failure happened (boxed: a thrown value may be undefined).
    let first: { readonly err: unknown } | undefined;
    const done = this.#pool(records, async (r) => {
      const l = loggedFromRecord(r);
      const name = indicatorObjectName({ type: r.type as Indicator['type'], value: r.value });
      try {
        const uid = seen.get(name)?.metadata.uid;
        // An object the list lacks is created first: a 409 (created since) reads it once.
        tally.add(name, l === undefined ? 'skipped' : await this.#ensureSeen(l, true, seen), seen.get(name)?.metadata.uid === uid);
      } catch (err) {
        // One object refused (a webhook connection reset, a revocation racing the repair) must not leave every other record to the next period.
        tally.fail();
        first ??= { err };
      }
    }, signal);
    try {
      await done;
    } catch (err) {
      this.#o.log.info('drift repair stopped with the exchange', { namespace: this.#o.namespace, ...tally.fields() });
      throw err;
    }
    const unlogged = listed.filter((o) => o.status?.phase === 'Approved' && !logged.has(o.metadata.name)).map((o) => o.metadata.name).sort();
    if (unlogged.length > 0) this.#o.log.warn('Approved ThreatIndicators that are not in the replicated log (left in place; check how they were written)', { namespace: this.#o.namespace, names: unlogged });
    const report = { ...tally.counts, unlogged };
    this.#o.log.info('drift repair', { namespace: this.#o.namespace, ...tally.fields(), unlogged: unlogged.length });
    // The first failure tells the caller why (and is classified as any step's failure); the caller retries soon.
    if (first !== undefined) throw first.err;
    return report;
  }

  /**
   * Runs one write from what is known of object `name` without a request; when that answers 409
   * (a create that lost to another writer, a patch on an object written since) or needs a fresh
   * read, once more from a GET. A second conflict is thrown, and the caller's batch is retried.
   */
  async #written<T>(name: string, seen: Seen, write: (base: Base) => Promise<T>): Promise<T> {
    try {
      return await write({ obj: seen.get(name) ?? this.#o.cache?.get(`${this.#o.namespace}/${name}`), fresh: false });
    } catch (err) {
      if (err !== NEEDS_FRESH && !(err instanceof ApiError && err.status === 409)) throw err;
    }
    const live = await this.#o.client.get<ThreatIndicator>(THREAT_INDICATORS, name, this.#o.namespace);
    if (live === undefined) seen.delete(name);
    else seen.set(name, live);
    return write({ obj: live, fresh: true });
  }

  async #create(name: string, spec: ThreatIndicatorSpec, seen: Seen): Promise<ThreatIndicator> {
    const created = await this.#o.client.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: this.#o.namespace }, spec });
    seen.set(name, created);
    return created;
  }

  /** Deletes `obj` only as it was read (uid and resourceVersion): an object written since answers 409, and the write is judged again. */
  async #deleteAsRead(obj: Readonly<ThreatIndicator>): Promise<void> {
    await this.#o.client.delete(THREAT_INDICATORS, obj.metadata.name, this.#o.namespace, asRead(obj));
  }

  /** Patches the owned status; guarded by the resourceVersion `obj` was judged on unless it was just read or written. */
  async #patchStatus(obj: Readonly<ThreatIndicator>, want: OwnedStatus, fresh: boolean, seen: Seen): Promise<void> {
    const rv = obj.metadata.resourceVersion;
    const guard = !fresh && rv !== undefined ? { metadata: { resourceVersion: rv } } : {};
    const patched = await this.#o.client.patchStatus<ThreatIndicator>(THREAT_INDICATORS, obj.metadata.name, this.#o.namespace, { ...guard, status: want });
    seen.set(obj.metadata.name, patched);
  }

  /**
   * {@link mustRecreate}, except for a local proposal of this admission that proves it, or that
   * the log's spec would not prove either (the cluster lacks the voters): recreating it changes
   * nothing the controller computes, and the working set keeps it too ({@link #adopt}).
   */
  #mustRecreate(obj: Readonly<ThreatIndicator>, l: LoggedIndicator, authoritative: boolean, fields: OwnedStatus, expected: 'Approved' | 'Revoked'): boolean {
    if (!mustRecreate(obj, l, authoritative)) return false;
    if (!(authoritative && localProposalOf(obj, l))) return true;
    return !this.#proves(obj, fields, expected) && this.#proves({ ...obj, spec: specOf(l) }, fields, expected);
  }

  /**
   * A local proposal's spec opens the voting window at its own ingest time: this partner's clock
   * ahead would leave it unproven for good. When the log's spec proves the entry and the local
   * one does not, the object is recreated from the log (the local proposal has done its job;
   * decided on a fresh read only). A local proposal of another round (not the proposal the log
   * admitted) is recreated from the log whatever it proves, as drift repair would. Otherwise
   * `obj` is returned as it is. Returned with the controller's evaluation of the object returned
   * (each evaluation verifies every vote signature: done once per object).
   */
  async #adopt(obj: Readonly<ThreatIndicator>, l: LoggedIndicator, { fields, expected }: ReturnType<typeof logStatus>, fresh: boolean, seen: Seen): Promise<{ obj: Readonly<ThreatIndicator>; ev: Evaluation }> {
    const ev = this.#evaluate(obj, fields);
    if (!isLocalProposal(obj)) return { obj, ev };
    // Only this admission's own proposal is kept: another round's (two partners ingested the
    // indicator) may prove the entry too, but its provenance, proposal and signed metadata are
    // not the log's, and drift repair (authoritative) would recreate it at its next run.
    const ours = sameProposal(obj, l);
    if (ours && proven(ev, expected)) return { obj, ev };
    const fromLog = this.#evaluate({ ...obj, spec: specOf(l) }, fields);
    if (ours && !proven(fromLog, expected)) return { obj, ev };
    if (!fresh) throw NEEDS_FRESH;
    await this.#deleteAsRead(obj);
    seen.delete(obj.metadata.name);
    return { obj: await this.#create(obj.metadata.name, specOf(l), seen), ev: fromLog };
  }

  /** What the controller computes for `obj` with the log's `fields`. */
  #evaluate(obj: Readonly<ThreatIndicator>, fields: OwnedStatus): Evaluation {
    return evaluateIndicator({ ...obj, status: { ...fields } }, this.#o.voters(), this.#o.now(), this.#o.policy);
  }

  /** True when the controller would compute `expected` for `obj` with the log's `fields`. */
  #proves(obj: Readonly<ThreatIndicator>, fields: OwnedStatus, expected: 'Approved' | 'Revoked'): boolean {
    return proven(this.#evaluate(obj, fields), expected);
  }

  /** The owned status of `obj` with the log's `fields`, phase and counts as the controller computes them (`ev`, when already computed); warns when that is not `expected`. */
  #judge(obj: Readonly<ThreatIndicator>, fields: OwnedStatus, expected: 'Approved' | 'Revoked', ev = this.#evaluate(obj, fields)): OwnedStatus {
    // A signed validUntil that has passed makes an admitted indicator Expired: proven, not a misconfiguration.
    if (ev.phase !== expected && ev.phase !== 'Expired') {
      this.#o.log.warn(`log entry not proven ${expected} by this cluster's PartnerNodes; register the network's voters`, { name: obj.metadata.name, index: fields.revocation?.logIndex ?? fields.logIndex, phase: ev.phase, detail: ev.message });
    }
    return { ...fields, phase: ev.phase, quorum: { required: ev.required, approvals: ev.approvals, rejections: ev.rejections, summary: `${ev.approvals}/${ev.required}` } };
  }

  async #pool<T>(items: readonly T[], work: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      try {
        while (!failed && next < items.length) {
          // A stop waits for the writes in flight only; the batch is left unreported (written again later).
          if (signal?.aborted === true) throw new WriteStopped();
          await work(items[next++]!);
        }
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

/** A signed validUntil that has passed makes an admitted indicator Expired: proven, not a misconfiguration. */
function proven(ev: Evaluation, expected: 'Approved' | 'Revoked'): boolean {
  return ev.phase === expected || ev.phase === 'Expired';
}
