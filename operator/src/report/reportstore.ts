/**
 * The partner database as reports read and write it: the candidates of a window (admitted,
 * revoked or sighted in it, at or below a TLP), the facts the grounding check needs about cited
 * digests, finished reports (`reports`) and accepted model answers (`report_answer_cache`).
 */
import type { Collection, Db, Filter, WithId } from 'mongodb';
import type { IndicatorRecord } from '../store/indicators.ts';
import { readRecord, type StoredIndicatorRecord } from '../store/certificate.ts';
import type { AnswerCache } from './cache.ts';
import type { Candidate } from './candidates.ts';
import { activeIn, type StoredFact } from './grounding.ts';
import { and, collectionsOf, isoRange, sightingsFilter, tlpFilter, type ReportCollections } from './mongo.ts';
import type { Window } from './period.ts';
import type { ReportDocument } from './render.ts';
import { indicatorTlp, tlpAllows, type Tlp } from './tlp.ts';

/** Finished reports. */
export const REPORTS = 'reports';
/** Accepted model answers by input hash. */
export const ANSWER_CACHE = 'report_answer_cache';

/** `_id` lookups in flight at once. */
const LOOKUPS = 16;

/**
 * Most indicators admitted before the window but sighted in it that are read (the most sighted
 * first): a summary offers at most 200 indicators, and sightings weigh most in their ranking.
 */
export const MAX_SIGHTED_EXTRA = 500;

/** Most candidates read for one window (the most recent by log index win). @default 5000 */
export const MAX_CANDIDATES = 5000;

type StoredReport = ReportDocument & { _id: string };

/** When quorum was reached: the last approval's signing time, else the round's opening. */
export function admittedAt(r: Pick<IndicatorRecord, 'votes' | 'window'>): string {
  const approvals = (r.votes ?? []).filter((v) => v['decision'] === 'approve').map((v) => v['signedAt'] ?? '').filter((s) => s !== '').sort();
  return approvals.at(-1) ?? r.window?.opensAt ?? '';
}

/** The fields of a record a {@link Candidate} is made of. */
export type CandidateRecord = Pick<IndicatorRecord, 'digest' | 'type' | 'value' | 'meta' | 'proposerId' | 'votes' | 'window' | 'state' | 'revocation' | 'logIndex'>;

/** A stored record as a {@link Candidate} with its sightings in the window. */
export function candidateOf(r: CandidateRecord, sightings: number): Candidate {
  return {
    digest: r.digest, type: r.type, value: r.value, tlp: indicatorTlp(r.meta), confidence: r.meta?.confidence, labels: [...(r.meta?.labels ?? [])],
    source: r.meta?.source, proposerId: r.proposerId, admittedAt: admittedAt(r), state: r.state,
    revokedAt: r.revocation?.window.opensAt, sightings,
  };
}

/** Reads candidates and facts; keeps reports and the answer cache. */
export class MongoReportStore {
  readonly #c: ReportCollections;
  readonly #reports: Collection<StoredReport>;
  readonly #cache: Collection<{ _id: string; text: string; at: Date }>;

  constructor(db: Db) {
    this.#c = collectionsOf(db);
    this.#reports = db.collection<StoredReport>(REPORTS);
    this.#cache = db.collection(ANSWER_CACHE);
  }

  /** Sightings per digest inside `w` (every partner), at or below `ceiling`, optionally only of `digests`. */
  async sightingsByDigest(w: Window, exclude: readonly string[], digests?: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.#c.sightings.aggregate<{ _id: string; n: number }>([{ $match: sightingsFilter(w, exclude, digests) }, { $group: { _id: '$digest', n: { $sum: '$count' } } }]).toArray();
    return new Map(rows.map((r) => [String(r._id), r.n]));
  }

  /**
   * Indicators admitted, revoked or sighted in `w`, at or below `ceiling`, at most
   * {@link MAX_CANDIDATES}: one scan for the window's admissions and revocations, then the most
   * sighted digests not among them by _id (FerretDB scans for anything but _id lookups).
   */
  async candidates(w: Window, ceiling: Tlp, max = MAX_CANDIDATES): Promise<Candidate[]> {
    const inWindow = { $or: [isoRange('window.opensAt', w), isoRange('revocation.window.opensAt', w)] } as Filter<StoredIndicatorRecord>;
    const [sighted, records] = await Promise.all([
      this.sightingsByDigest(w, []),
      this.#c.indicators.find(and(tlpFilter(ceiling), inWindow)).sort({ logIndex: -1 }).limit(max).map(readRecord).toArray(),
    ]);
    return this.candidatesOf(records, sighted, ceiling, max);
  }

  /**
   * The candidates of a window from what was read of it: `records` admitted or revoked in it
   * (any TLP, any order), the sightings per digest inside it; the most sighted digests not among
   * the records are read by _id. Same result as {@link candidates}.
   */
  async candidatesOf(records: readonly CandidateRecord[], sighted: ReadonlyMap<string, number>, ceiling: Tlp, max = MAX_CANDIDATES): Promise<Candidate[]> {
    const kept: CandidateRecord[] = records.filter((r) => tlpAllows(ceiling, indicatorTlp(r.meta))).sort((a, b) => b.logIndex - a.logIndex).slice(0, max);
    const have = new Set(kept.map((r) => r.digest));
    const more = [...sighted].filter(([d]) => !have.has(d)).sort((a, b) => b[1] - a[1]).slice(0, Math.min(MAX_SIGHTED_EXTRA, Math.max(0, max - kept.length))).map(([d]) => d);
    kept.push(...(await this.#byId(more)).filter((r) => tlpAllows(ceiling, indicatorTlp(r.meta))));
    // The TLP filter above is the first guard; this is the second.
    return kept.map((r) => candidateOf(r, sighted.get(r.digest) ?? 0)).filter((c) => tlpAllows(ceiling, c.tlp));
  }

  /**
   * The records of `digests`, each read by its own `_id` lookup, {@link LOOKUPS} at a time:
   * FerretDB answers an `_id` equality from its index in milliseconds but scans the whole
   * collection for `_id: {$in: [...]}` (64 lookups: 0.1 s; one $in of 64: 2.8 s, 10,000 records).
   */
  async #byId(digests: readonly string[]): Promise<Array<WithId<IndicatorRecord>>> {
    const out: Array<WithId<IndicatorRecord>> = [];
    for (let i = 0; i < digests.length; i += LOOKUPS) {
      const found = await Promise.all(digests.slice(i, i + LOOKUPS).map((d) => this.#c.indicators.findOne({ _id: d } as Filter<StoredIndicatorRecord>)));
      for (const r of found) if (r !== null) out.push(readRecord(r) as WithId<IndicatorRecord>);
    }
    return out;
  }

  /**
   * What the store says about each of `digests` (missing: unknown). Sightings inside `w` are read
   * only for records admitted and revoked outside `w`: for the others they cannot change the
   * grounding check, and reading them costs a scan of the sightings (unless `sighted`, the
   * window's sightings per digest already read, is given).
   */
  async facts(digests: readonly string[], w: Window, sighted?: ReadonlyMap<string, number>): Promise<Map<string, StoredFact>> {
    const wanted = [...new Set(digests.filter((d) => typeof d === 'string' && d.length <= 128))];
    if (wanted.length === 0) return new Map();
    const records = await this.#byId(wanted);
    const facts = new Map<string, StoredFact>(records.map((r) => [r.digest, { tlp: indicatorTlp(r.meta), admittedAt: admittedAt(r), revokedAt: r.revocation?.window.opensAt }]));
    const undecided = [...facts].filter(([, f]) => !activeIn(w, f)).map(([d]) => d);
    if (undecided.length > 0) {
      const counts = sighted ?? await this.sightingsByDigest(w, [], undecided);
      for (const d of undecided) facts.set(d, { ...facts.get(d)!, sightings: counts.get(d) ?? 0 });
    }
    return facts;
  }

  /** Stores a finished report (replacing one with the same id). */
  async saveReport(doc: ReportDocument): Promise<void> {
    await this.#reports.replaceOne({ _id: doc.id }, { ...doc }, { upsert: true });
  }

  /** The report `id`, if stored. */
  async report(id: string): Promise<ReportDocument | undefined> {
    const d = await this.#reports.findOne({ _id: id });
    if (d === null) return undefined;
    const { _id: _ignored, ...doc } = d;
    return doc;
  }

  /** Reports newest first, optionally of one ThreatReport (namespace/name), headline fields only. */
  async listReports(opts: { report?: string | undefined; limit?: number | undefined } = {}): Promise<Array<Pick<ReportDocument, 'id' | 'report' | 'createdAt' | 'since' | 'until' | 'tlp' | 'model'> & { headline: string; generator: string }>> {
    const docs = await this.#reports.find(opts.report ? { report: opts.report } : {}, { projection: { id: 1, report: 1, createdAt: 1, since: 1, until: 1, tlp: 1, model: 1, summary: 1 } }).sort({ createdAt: -1 }).limit(opts.limit ?? 50).toArray();
    return docs.map((d) => ({ id: d.id, report: d.report, createdAt: d.createdAt, since: d.since, until: d.until, tlp: d.tlp, model: d.model, headline: d.summary.headline, generator: d.summary.generator }));
  }

  /** The answer cache in this database. */
  answerCache(): AnswerCache {
    return {
      get: async (key) => (await this.#cache.findOne({ _id: key }))?.text,
      set: async (key, text) => { await this.#cache.replaceOne({ _id: key }, { text, at: new Date() }, { upsert: true }); },
    };
  }
}
