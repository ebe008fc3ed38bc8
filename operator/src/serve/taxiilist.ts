/**
 * The listing behind TAXII objects, manifest, an object and its versions: versions of one
 * collection, in log-index order, filtered by the consumer's TLP in the database, paged by the
 * log-index cursor. Filters the database cannot express (exact version timestamps) are applied
 * to each database page within a scan budget; when the budget runs out the reply has fewer
 * objects, `more: true` and a cursor at the last version looked at, so no request scans
 * unboundedly and none skips anything.
 */
import type { ConsumerCollection } from './collections.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { IndicatorReader, ServedRecord, VersionRow, VersionView } from './record.ts';
import { versionOf } from './stixview.ts';
import type { ListParams, VersionMatch } from './taxiiparams.ts';

/** One page of a listing. */
export interface Listing {
  readonly rows: readonly VersionRow[];
  readonly more: boolean;
  /** The cursor of the following page when `more`. */
  readonly next?: string;
}

/** What a listing needs besides its parameters. */
export interface ListContext {
  readonly reader: IndicatorReader;
  readonly collection: ConsumerCollection;
  /** Fingerprint of the query (cursor.ts queryFingerprint). */
  readonly fingerprint: string;
  /** Rows read from the database per request at most when filtering in code. @default 10 × limit, at least 1000 */
  readonly scanBudget?: number;
  /** Restrict to this one object (the object and versions endpoints). */
  readonly objectId?: string;
}

const EMPTY: Listing = { rows: [], more: false };

/** True when a version passes match[version]. */
export function matchesVersion(m: VersionMatch, row: VersionRow): boolean {
  if (m.all) return true;
  if (m.first && row.kind === 'add') return true;
  if (m.last && (row.kind === 'revoke' || row.record.state === 'active')) return true;
  return m.at.size > 0 && m.at.has(Date.parse(versionOf(row)));
}

function dbView(m: VersionMatch): VersionView {
  if (m.all || (m.first && m.last) || m.at.size > 0) return 'all';
  return m.first ? 'first' : 'last';
}

/** The version rows of one record (its admission, and its revocation when revoked). */
export function rowsOf(r: ServedRecord): VersionRow[] {
  const rows: VersionRow[] = [{ index: r.logIndex, kind: 'add', record: r }];
  if (r.state === 'revoked' && r.revokedAtIndex !== undefined) rows.push({ index: r.revokedAtIndex, kind: 'revoke', record: r });
  return rows;
}

function addedAt(row: VersionRow): number {
  return (row.kind === 'add' ? row.record.addedAt : (row.record.revokedAt ?? row.record.addedAt)).getTime();
}

function keep(p: ListParams, row: VersionRow, after: number, watermark: number): boolean {
  return row.index > after && row.index < watermark && matchesVersion(p.version, row) && (p.addedAfter === undefined || addedAt(row) > p.addedAfter.getTime());
}

function page(rows: VersionRow[], limit: number, fingerprint: string): Listing {
  if (rows.length <= limit) return { rows, more: false };
  const shown = rows.slice(0, limit);
  return { rows: shown, more: true, next: encodeCursor(shown[shown.length - 1]?.index ?? -1, fingerprint) };
}

async function byIds(ctx: ListContext, p: ListParams, ids: readonly string[], after: number, watermark: number): Promise<Listing> {
  const rows: VersionRow[] = [];
  for (const id of new Set(ids)) {
    const r = await ctx.reader.byStixId(id, ctx.collection.tlps);
    if (r === undefined || (ctx.collection.def.source !== undefined && r.meta?.source !== ctx.collection.def.source)) continue;
    rows.push(...rowsOf(r).filter((row) => keep(p, row, after, watermark)));
  }
  rows.sort((a, b) => a.index - b.index);
  return page(rows, p.limit, ctx.fingerprint);
}

/**
 * One page of versions of `ctx.collection` for `p` (throws cursor.ts CursorError for a bad
 * `next`). With match[id] or an object id the candidates are looked up by id (at most 100);
 * otherwise the database pages by log index.
 */
export async function listVersions(ctx: ListContext, p: ListParams): Promise<Listing> {
  const after = p.next === undefined ? -1 : decodeCursor(p.next, ctx.fingerprint);
  if (p.types !== undefined && !p.types.includes('indicator')) return EMPTY;
  if (p.specVersions !== undefined && !p.specVersions.includes('2.1')) return EMPTY;
  const watermark = await ctx.reader.watermark();
  const ids = ctx.objectId !== undefined ? (p.ids === undefined || p.ids.includes(ctx.objectId) ? [ctx.objectId] : []) : p.ids;
  if (ids !== undefined) return byIds(ctx, p, ids, after, watermark);
  return scan(ctx, p, after, watermark);
}

async function scan(ctx: ListContext, p: ListParams, after: number, watermark: number): Promise<Listing> {
  const budget = ctx.scanBudget ?? Math.max(1000, 10 * p.limit);
  const view = dbView(p.version);
  const out: VersionRow[] = [];
  let pos = after;
  let scanned = 0;
  for (;;) {
    const want = p.limit + 1 - out.length;
    const res = await ctx.reader.versions({
      tlps: ctx.collection.tlps, after: pos, view, limit: want,
      ...(ctx.collection.def.source !== undefined ? { source: ctx.collection.def.source } : {}),
      ...(p.addedAfter !== undefined ? { addedAfter: p.addedAfter } : {}),
    }, watermark);
    for (const row of res.rows) {
      pos = row.index;
      if (keep(p, row, -1, watermark)) out.push(row);
    }
    scanned += res.rows.length;
    if (out.length > p.limit) return page(out, p.limit, ctx.fingerprint);
    if (!res.more || res.rows.length === 0) return { rows: out, more: false };
    if (scanned >= budget) return { rows: out, more: true, next: encodeCursor(pos, ctx.fingerprint) };
  }
}
