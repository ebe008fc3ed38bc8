/**
 * The Kubernetes {@link EntrySink} of a partner's replica: every verified ADD entry becomes the
 * ThreatIndicator named by its digest in one namespace, with the signed votes of its quorum
 * certificate, quorum counts and log index in status. The phase it writes is the one the
 * ThreatIndicator controller computes from those votes with the cluster's voter registry
 * (`evaluateIndicator`), so the controller never flips it and the webhook never refuses it: when
 * the cluster's PartnerNodes do not prove the certificate, the object says so (not Approved) and
 * a warning is logged. Writes happen only when the owned fields differ, so re-applying is a no-op.
 *
 * REVOKE entries are skipped with a warning: neither the controller nor the webhook can prove
 * phase Revoked from revoke votes yet (the controller would recompute Approved, the webhook
 * refuses the claim), and weakening either is not this sink's call.
 *
 * Drift repair ({@link KubeIndicatorSink.repair}) compares the namespace's ThreatIndicators with
 * the partner's replicated records and re-applies what is missing or edited. An Approved object
 * absent from the log is reported and logged, never deleted: it may be a local proposal whose
 * entry has not arrived yet, and deleting an analyst's object silently is worse than a warning.
 */
import { isDeepStrictEqual } from 'node:util';
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import type { ThreatIndicator, ThreatIndicatorSpec, ThreatIndicatorStatus, VoteRecord } from '../api/types.ts';
import { evaluateIndicator, type AdmissionPolicy } from '../controllers/threatindicator.ts';
import type { PartnerEntry } from '../controllers/voters.ts';
import { indicatorObjectName } from '../domain/canonical.ts';
import type { Indicator } from '../domain/indicator.ts';
import type { Vote } from '../domain/quorum.ts';
import { stixPattern } from '../domain/stix.ts';
import type { Logger } from '../log.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { IndicatorRecord } from '../store/indicators.ts';
import type { EntryWindow } from './entry.ts';
import type { EntrySink, VerifiedEntry } from './partner.ts';

/** What the log says about one admitted indicator: all a ThreatIndicator is built from. */
export interface LoggedIndicator {
  readonly indicator: Indicator;
  readonly logIndex: number;
  readonly proposerId: string;
  readonly proposalSignature: string;
  readonly window: EntryWindow;
  readonly votes: readonly VoteRecord[];
}

/** Everything the sink is built from. */
export interface KubeSinkOptions {
  readonly client: KubeClient;
  /** Namespace of the partner's ThreatIndicators. */
  readonly namespace: string;
  /** The cluster's partners (the same registry the ThreatIndicator controller reads). */
  readonly voters: () => readonly PartnerEntry[];
  /** The controller's admission policy; must be the same so both compute the same phase. */
  readonly policy?: AdmissionPolicy;
  readonly now: () => Date;
  readonly log: Logger;
  /** Objects written at the same time by applyMany and repair (entries of one indicator stay in log order). @default 8 */
  readonly concurrency?: number;
}

const DEFAULT_CONCURRENCY = 8;

/** What {@link KubeIndicatorSink.ensure} did to one object. */
export type EnsureOutcome = 'created' | 'corrected' | 'unchanged';

/** What one drift repair did. */
export interface RepairReport {
  /** Objects that were missing and were created again. */
  readonly restored: number;
  /** Objects whose spec or owned status fields differed from the log and were rewritten. */
  readonly corrected: number;
  readonly unchanged: number;
  /** Records that cannot be rebuilt: revoked, or stored without window and proposal signature. */
  readonly skipped: number;
  /** Names of Approved objects with no record in the log (reported, not deleted). */
  readonly unlogged: readonly string[];
}

/** The status fields this sink owns; the controller's conditions and observedGeneration are left alone. */
type OwnedStatus = Required<Pick<ThreatIndicatorStatus, 'phase' | 'votes' | 'quorum' | 'logIndex'>>;

/** The logged form of a verified ADD entry. */
export function loggedFromEntry(entry: VerifiedEntry): LoggedIndicator {
  return {
    indicator: entry.indicator, logIndex: entry.index, proposerId: entry.proposerId,
    proposalSignature: entry.proposalSignature, window: entry.window, votes: entry.votes.map(voteToRecord),
  };
}

/** The logged form of a replicated MongoDB record, or undefined when it is revoked or lacks window and proposal signature (stored before they were kept). */
export function loggedFromRecord(r: IndicatorRecord): LoggedIndicator | undefined {
  if (r.state !== 'active' || r.window === undefined || r.proposalSignature === undefined) return undefined;
  const votes = r.votes.map((v): VoteRecord => ({
    partnerId: v['partnerId'] ?? '', decision: v['decision'] === 'reject' ? 'reject' : 'approve', signedAt: v['signedAt'] ?? '', signature: v['signature'] ?? '',
    ...(v['reason'] !== undefined ? { reason: v['reason'] } : {}),
  }));
  return { indicator: { type: r.type as Indicator['type'], value: r.value }, logIndex: r.logIndex, proposerId: r.proposerId, proposalSignature: r.proposalSignature, window: r.window, votes };
}

/** The spec a logged indicator gets: type, value, STIX pattern, provenance (proposedAt opens the voting window the controller checks) and the proposal signature. */
export function specOf(l: LoggedIndicator): ThreatIndicatorSpec {
  return {
    type: l.indicator.type, value: l.indicator.value, pattern: stixPattern(l.indicator),
    provenance: { partner: l.proposerId, proposedAt: l.window.opensAt },
    proposal: { partnerId: l.proposerId, signature: l.proposalSignature },
  };
}

/** The ThreatIndicator sink of a partner's replica, with drift repair. */
export class KubeIndicatorSink implements EntrySink {
  readonly #o: KubeSinkOptions;

  constructor(opts: KubeSinkOptions) {
    this.#o = opts;
  }

  /** Applies one verified entry; idempotent (no write when the object already matches). */
  async apply(entry: VerifiedEntry): Promise<void> {
    if (entry.kind === 'revoke') {
      this.#o.log.warn('revocation not applied to the cluster: phase Revoked cannot be proven to the ThreatIndicator controller and webhook yet', { index: entry.index, name: indicatorObjectName(entry.indicator) });
      return;
    }
    await this.ensure(loggedFromEntry(entry));
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
   * Makes the object of `l` match the log: creates it when missing, recreates it when its
   * type or value differ (spec is immutable), patches the owned status fields when they differ.
   */
  async ensure(l: LoggedIndicator): Promise<EnsureOutcome> {
    const name = indicatorObjectName(l.indicator);
    const { client, namespace } = this.#o;
    let current = await client.get<ThreatIndicator>(THREAT_INDICATORS, name, namespace);
    let outcome: EnsureOutcome = 'unchanged';
    if (current !== undefined && (current.spec.type !== l.indicator.type || current.spec.value !== l.indicator.value)) {
      await client.delete(THREAT_INDICATORS, name, namespace);
      current = undefined;
      outcome = 'corrected';
    }
    if (current === undefined) {
      current = await client.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace }, spec: specOf(l) });
      if (outcome === 'unchanged') outcome = 'created';
    }
    const want = this.#status(current, l);
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
      const outcome = l === undefined ? 'skipped' : await this.ensure(l);
      counts[outcome === 'created' ? 'restored' : outcome] += 1;
    });
    const unlogged = (await this.#listAll()).filter((o) => o.status?.phase === 'Approved' && !logged.has(o.metadata.name)).map((o) => o.metadata.name).sort();
    if (unlogged.length > 0) this.#o.log.warn('Approved ThreatIndicators that are not in the replicated log (left in place; check how they were written)', { namespace: this.#o.namespace, names: unlogged });
    const report = { ...counts, unlogged };
    this.#o.log.info('drift repair', { namespace: this.#o.namespace, ...counts, unlogged: unlogged.length });
    return report;
  }

  #status(obj: ThreatIndicator, l: LoggedIndicator): OwnedStatus {
    const probe: ThreatIndicator = { ...obj, status: { votes: [...l.votes] } };
    const ev = evaluateIndicator(probe, this.#o.voters(), this.#o.now(), this.#o.policy);
    if (ev.phase !== 'Approved') {
      this.#o.log.warn('log entry not proven Approved by this cluster\'s PartnerNodes; register the network\'s voters', { name: obj.metadata.name, index: l.logIndex, phase: ev.phase, detail: ev.message });
    }
    return {
      phase: ev.phase, votes: [...l.votes], logIndex: l.logIndex,
      quorum: { required: ev.required, approvals: ev.approvals, rejections: ev.rejections, summary: `${ev.approvals}/${ev.required}` },
    };
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
    const n = Math.max(1, Math.min(this.#o.concurrency ?? DEFAULT_CONCURRENCY, items.length));
    await Promise.all(Array.from({ length: n }, worker));
  }

  async #listAll(): Promise<ThreatIndicator[]> {
    const out: ThreatIndicator[] = [];
    let cont: string | undefined;
    do {
      const page = await this.#o.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: this.#o.namespace, limit: 500, ...(cont ? { continue: cont } : {}) });
      out.push(...page.items);
      cont = page.metadata.continue;
    } while (cont);
    return out;
  }
}

function owned(s: ThreatIndicatorStatus | undefined): Partial<OwnedStatus> {
  const pick: Partial<OwnedStatus> = {};
  if (s?.phase !== undefined) pick.phase = s.phase;
  if (s?.votes !== undefined) pick.votes = s.votes;
  if (s?.quorum !== undefined) pick.quorum = s.quorum;
  if (s?.logIndex !== undefined) pick.logIndex = s.logIndex;
  return pick;
}

function voteToRecord(v: Vote): VoteRecord {
  return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature, ...(v.reason !== undefined ? { reason: v.reason } : {}) };
}
