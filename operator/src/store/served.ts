/**
 * The read model the partner's HTTPS server pages through (serve/): one replicated indicator as
 * served, its versions in log-index order, and the reader port that store/servedindicators.ts
 * implements over MongoDB (and serve/memory.ts in memory). Types only.
 *
 * Versions: an admitted indicator has one version at its ADD entry's log index; a revoked one
 * has a second, `revoked: true`, at its REVOKE entry's index. Ordering every version by that
 * index gives a stable total order ("the log index"), so paging never loops or skips where many
 * versions share one date_added.
 */
import type { IndicatorMeta, MetaTlp } from '../domain/entry.ts';

type Tlp = MetaTlp;

/** One replicated indicator as served. */
export interface ServedRecord {
  readonly digest: string;
  readonly type: string;
  readonly value: string;
  readonly state: 'active' | 'revoked';
  /** Index of the ADD entry. */
  readonly logIndex: number;
  /** Index of the REVOKE entry, when revoked. */
  readonly revokedAtIndex?: number;
  readonly proposerId: string;
  readonly meta?: IndicatorMeta;
  /** The ADD round's voting window; `opensAt` is the STIX `created`. */
  readonly window?: { readonly opensAt: string; readonly closesAt: string };
  /** The REVOKE round's window; `opensAt` is the revoked version's `modified`. */
  readonly revocationWindow?: { readonly opensAt: string; readonly closesAt: string };
  /** When this partner stored the ADD (TAXII date_added of the first version). */
  readonly addedAt: Date;
  /** When this partner stored the REVOKE (date_added of the revoked version). */
  readonly revokedAt?: Date;
}

/** Which versions a listing shows (TAXII match[version] first / last / all). */
export type VersionView = 'last' | 'first' | 'all';

/** One object version at its position in the log. */
export interface VersionRow {
  /** The log index of the entry that made this version (the cursor position). */
  readonly index: number;
  readonly kind: 'add' | 'revoke';
  readonly record: ServedRecord;
}

/** What one log entry changed, as served (store/servedchanges.ts journal): an admission with its record, or a revocation. */
export type ServedChange =
  | { readonly kind: 'add'; readonly index: number; readonly record: ServedRecord }
  | { readonly kind: 'revoke'; readonly index: number; readonly digest: string; readonly revokedAt: Date; readonly window: { readonly opensAt: string; readonly closesAt: string } };

/** A listing of versions, in log-index order. */
export interface VersionQuery {
  /** TLP levels to include (the collection's, intersected with the consumer's). Never empty. */
  readonly tlps: readonly Tlp[];
  /** Only indicators from this source feed (meta.source). */
  readonly source?: string;
  /** Versions after this log index (exclusive); -1 from the start. */
  readonly after: number;
  /** Versions stored after this time (TAXII added_after, exclusive). */
  readonly addedAfter?: Date;
  readonly view: VersionView;
  /** At most this many rows (>= 1). */
  readonly limit: number;
}

/** A page of versions; `more` when later rows exist. */
export interface VersionPage {
  readonly rows: readonly VersionRow[];
  readonly more: boolean;
}


/**
 * What the serving side reads. Every method filters by TLP in the database; nothing above the
 * asked-for levels is ever returned. Rows are limited to the replica's watermark (versions whose
 * index is below the replica cursor), so a page never shows index i+1 before i exists.
 */
export interface IndicatorReader {
  /** The replica's watermark: every entry below it is applied. */
  watermark(): Promise<number>;
  /** One page of versions, by an indexed query over the log index. */
  versions(q: VersionQuery, watermark: number): Promise<VersionPage>;
  /** The indicator whose STIX id is `stixId`, if stored and at one of `tlps`. */
  byStixId(stixId: string, tlps: readonly Tlp[]): Promise<ServedRecord | undefined>;
  /** Distinct source feeds of indicators at `tlps`, sorted. */
  sources(tlps: readonly Tlp[]): Promise<string[]>;
}
