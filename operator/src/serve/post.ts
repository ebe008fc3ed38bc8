/**
 * POSTed TAXII objects become proposals, never admissions: each STIX indicator is parsed
 * (feeds/stix.ts), normalized, checked against the warning lists, and created as a
 * ThreatIndicator in phase Proposed signed with this partner's key, exactly as a Feed run
 * proposes (feeds/propose.ts toThreatIndicator); the partner's forwarder then submits it to the
 * sequencer and the network votes. The collection's TLP is the proposal's TLP (an object marked
 * with another TLP is refused). The status stays `pending` until the network decides; GET status
 * re-checks the replica (admitted → success) and the ThreatIndicator (Rejected, Expired →
 * failure).
 */
import { randomUUID } from 'node:crypto';
import type { FieldSelector, ThreatIndicator } from '../api/types.ts';
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { normalize, type Indicator } from '../domain/indicator.ts';
import type { SigningKey } from '../domain/signature.ts';
import { TLP_MARKING_IDS, stixPattern } from '../domain/stix.ts';
import { ProposalMetaError, recordSpecFields, toBatchProposals, toThreatIndicator, type ProposalContext } from '../feeds/propose.ts';
import type { IngestedIndicator } from '../feeds/pipeline.ts';
import { stixObjectToRecords } from '../feeds/stix.ts';
import { fieldsOf, newBatch } from '../feeds/types.ts';
import type { WarningList } from '../feeds/warninglists.ts';
import { ApiError, type KubeReader, type KubeWriter } from '../runtime/client.ts';
import type { ConsumerCollection } from './collections.ts';
import type { Consumer } from './config.ts';
import type { IndicatorReader } from './record.ts';
import type { PendingItem, StatusDetail, StatusStore, StoredStatus } from './status.ts';
import { stixIdOfDigest } from './stixview.ts';
import type { ProposalPort } from './taxii.ts';
import { TLP_LEVELS, type Tlp } from './tlp.ts';
import { keySigner } from '../feeds/signer.ts';

/** What proposing needs. */
export interface ProposerOptions {
  readonly kube: KubeReader & KubeWriter;
  /** Namespace of this partner's ThreatIndicators. */
  readonly namespace: string;
  readonly partnerId: string;
  readonly signer: SigningKey;
  readonly warningList: WarningList;
  readonly statuses: StatusStore;
  readonly reader: IndicatorReader;
  readonly now: () => Date;
  /**
   * Signs the ADD proposals of one POST as Merkle batches of up to this many (protocol v2, one
   * signature per batch; only the objects of that POST that passed every check are leaves).
   * @default 0 (each proposal signed alone, protocol v1)
   */
  readonly proposalBatchSize?: number | undefined;
}

/** An object of a POST that passed every check, ready to be signed and proposed. */
interface Checked {
  readonly indicator: Indicator;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
  readonly detail: StatusDetail;
}

/** STIX properties read into the proposal's spec (feeds/propose.ts mapping.fields). */
const STIX_FIELDS: Readonly<Record<string, FieldSelector>> = {
  confidence: { column: 'confidence' }, labels: { column: 'labels' }, validFrom: { column: 'valid_from' }, validUntil: { column: 'valid_until' },
};

const TLP_BY_MARKING = new Map<string, Tlp>(Object.entries(TLP_MARKING_IDS).map(([t, id]) => [id, t as Tlp]));

type Outcome = { readonly kind: 'failure'; readonly detail: StatusDetail } | { readonly kind: 'pending'; readonly item: PendingItem };

/** The {@link ProposalPort} of a partner. */
export class TaxiiProposer implements ProposalPort {
  readonly #o: ProposerOptions;

  constructor(opts: ProposerOptions) {
    this.#o = opts;
  }

  async submit(consumer: Consumer, collection: ConsumerCollection, objects: readonly unknown[]): Promise<StoredStatus> {
    const status: StoredStatus = { id: randomUUID(), owner: consumer.name, requestTimestamp: this.#o.now().toISOString(), successes: [], failures: [], pendings: [] };
    const tlp = collection.def.writeTlp ?? 'clear';
    const checked: Checked[] = [];
    for (const [i, obj] of objects.entries()) {
      const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
      const detail: StatusDetail = { id: typeof o['id'] === 'string' ? o['id'] : `objects[${i}]`, version: typeof o['modified'] === 'string' ? o['modified'] : typeof o['created'] === 'string' ? o['created'] : '' };
      const parsed = this.#indicatorOf(o, obj, tlp, i);
      if (typeof parsed === 'string') status.failures.push({ ...detail, message: parsed });
      else checked.push({ ...parsed, detail });
    }
    const size = this.#o.proposalBatchSize ?? 0;
    const ctx = this.#context(consumer, tlp, size);
    // Batches hold only this POST's checked objects, in order: nothing another request or the client did not send.
    const outcomes: Outcome[] = [];
    if (size <= 0) for (const c of checked) outcomes.push(await this.#propose(ctx, c));
    else for (let at = 0; at < checked.length; at += size) outcomes.push(...await this.#proposeBatch(ctx, checked.slice(at, at + size)));
    for (const out of outcomes) {
      if (out.kind === 'failure') status.failures.push(out.detail);
      else status.pendings.push(out.item);
    }
    await this.#o.statuses.save(status);
    return status;
  }

  #context(consumer: Consumer, tlp: Tlp, batchSize: number): ProposalContext {
    return {
      namespace: this.#o.namespace, feed: `taxii/${consumer.name}`, feedName: `taxii-${consumer.name}`.slice(0, 63).replace(/[^a-z0-9]+$/, ''),
      partnerId: this.#o.partnerId, signer: keySigner(this.#o.signer, batchSize), tlp, now: this.#o.now,
    };
  }

  /** The one indicator an object proposes, or why it proposes none. */
  #indicatorOf(o: Record<string, unknown>, obj: unknown, tlp: Tlp, i: number): { indicator: Indicator; fields: Readonly<Record<string, unknown>> | undefined } | string {
    const marked = markingTlps(o);
    if (marked.length > 0 && !marked.includes(tlp)) return `marked TLP:${marked.map((t) => t.toUpperCase()).join(', TLP:')} but POSTed to the TLP:${tlp.toUpperCase()} collection; POST it to its TLP's collection`;
    const batch = newBatch();
    stixObjectToRecords(obj, batch, `objects[${i}]`);
    if (batch.rejections[0] !== undefined) return batch.rejections[0].message;
    if (batch.skips[0] !== undefined) return `not proposed (${batch.skips[0]}): only unrevoked STIX indicator objects with a stix pattern are accepted`;
    const rec = batch.records[0];
    if (rec === undefined || batch.records.length !== 1) return `the pattern holds ${batch.records.length} indicators; POST one indicator per object`;
    const norm = normalize(rec.type as Indicator['type'], rec.value);
    if (!norm.ok) return norm.rejection.message;
    const listed = this.#o.warningList.match(norm.indicator);
    if (listed !== undefined) return `on the ${listed} warning list: never proposed`;
    return { indicator: norm.indicator, fields: fieldsOf(rec.fields) };
  }

  /** Signs and creates one proposal alone (protocol v1). */
  async #propose(ctx: ProposalContext, c: Checked): Promise<Outcome> {
    try {
      return await this.#create(await toThreatIndicator(ingested(c), ctx, recordSpecFields(c.fields, STIX_FIELDS)), c);
    } catch (err) {
      if (err instanceof ProposalMetaError) return refused(c, err);
      throw err;
    }
  }

  /** Signs `chunk` as one batch (an item whose metadata cannot be signed is left out and refused by name), then creates each. */
  async #proposeBatch(ctx: ProposalContext, chunk: readonly Checked[]): Promise<Outcome[]> {
    const made = await toBatchProposals(chunk.map((c) => ({ ...ingested(c), extra: recordSpecFields(c.fields, STIX_FIELDS) })), ctx);
    const out: Outcome[] = [];
    for (const [i, c] of chunk.entries()) {
      const ti = made[i]!;
      out.push(ti instanceof ProposalMetaError ? refused(c, ti) : await this.#create(ti, c));
    }
    return out;
  }

  async #create(ti: ThreatIndicator, c: Checked): Promise<Outcome> {
    try {
      await this.#o.kube.create(THREAT_INDICATORS, ti);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) return refused(c, err);
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    return { kind: 'pending', item: { ...c.detail, digest: indicatorDigest(c.indicator), objectName: indicatorObjectName(c.indicator), message: 'proposed to the network; waiting for the quorum' } };
  }

  async refresh(status: StoredStatus): Promise<StoredStatus> {
    const next: StoredStatus = { ...status, successes: [...status.successes], failures: [...status.failures], pendings: [] };
    // Brings a serving index up to the replica's watermark first, so an admission the replica has saved is seen.
    await this.#o.reader.watermark();
    for (const p of status.pendings) {
      const admitted = await this.#o.reader.byStixId(stixIdOfDigest(p.digest), TLP_LEVELS);
      if (admitted !== undefined) {
        next.successes.push({ id: p.id, version: p.version, message: `admitted by the network at log index ${admitted.logIndex}` });
        continue;
      }
      const ti = await this.#o.kube.get<ThreatIndicator>(THREAT_INDICATORS, p.objectName, this.#o.namespace);
      const phase = ti?.status?.phase;
      if (phase === 'Rejected' || phase === 'Expired') next.failures.push({ id: p.id, version: p.version, message: `${phase.toLowerCase()} by the network` });
      else next.pendings.push(p);
    }
    if (next.pendings.length !== status.pendings.length) await this.#o.statuses.save(next);
    return next;
  }
}

function ingested(c: Checked): IngestedIndicator {
  return { type: c.indicator.type, value: c.indicator.value, pattern: stixPattern(c.indicator), digest: indicatorDigest(c.indicator) };
}

function refused(c: Checked, err: Error): Outcome {
  return { kind: 'failure', detail: { ...c.detail, message: `refused: ${err.message.slice(0, 300)}` } };
}

function markingTlps(o: Record<string, unknown>): Tlp[] {
  const refs = Array.isArray(o['object_marking_refs']) ? o['object_marking_refs'] : [];
  return refs.map((r) => (typeof r === 'string' ? TLP_BY_MARKING.get(r) : undefined)).filter((t): t is Tlp => t !== undefined);
}
