/**
 * The export API (`/exports/…`) and the export files: Suricata, Zeek Intel, CSV, plain lists
 * and a MISP feed of the indicators a consumer may receive (TLP filtered in the database, as
 * TAXII). Full exports hold the indicators in force (admitted, not revoked, not expired);
 * incremental ones (`?since=<cursor>`) what changed after a cursor, removals included where
 * the format has them (CSV `action`). Every reply carries a strong ETag of its bytes (a
 * matching If-None-Match gets 304) and `X-ThreatMesh-Cursor` for the next incremental request.
 */
import { hash } from 'node:crypto';
import type { AuditLog } from './audit.ts';
import type { Caller } from './taxii.ts';
import { CursorError, decodeCursor, encodeCursor } from './cursor.ts';
import { OTHER_FILES, SURICATA_FILES, type ExportFile, type ExportHeader, type ExportItem } from './exportformats.ts';
import type { Reply, ServeRequest } from './http.ts';
import { mispFeed } from './mispfeed.ts';
import type { IndicatorReader, VersionRow } from './record.ts';
import { stixIdOfDigest } from './stixview.ts';
import { servedTlp, type Tlp } from './tlp.ts';

const EXPORT_FP = 'export';
const PAGE = 5000;

/** What exports read. */
export interface ExportDeps {
  readonly reader: IndicatorReader;
  readonly audit: AuditLog;
  readonly partnerId: string;
  readonly now: () => Date;
  /** Rows per database page. @default 5000 */
  readonly pageSize?: number;
}

/** Items of an export and the cursor of their content. */
export interface Collected {
  readonly items: ExportItem[];
  readonly cursor: string;
}

function item(row: VersionRow, action: 'add' | 'remove'): ExportItem | undefined {
  const r = row.record;
  const tlp = servedTlp(r.meta?.tlp);
  if (tlp === undefined) return undefined;
  const m = r.meta;
  return {
    action, type: r.type, value: r.value, tlp, stixId: stixIdOfDigest(r.digest), logIndex: row.index, proposerId: r.proposerId, addedAt: Math.floor(r.addedAt.getTime() / 1000),
    ...(m?.confidence !== undefined ? { confidence: m.confidence } : {}), ...(m?.labels !== undefined ? { labels: m.labels } : {}),
    ...(m?.validFrom !== undefined ? { validFrom: m.validFrom } : {}), ...(m?.validUntil !== undefined ? { validUntil: m.validUntil } : {}),
    ...(m?.source !== undefined ? { source: m.source } : {}),
  };
}

function expired(row: VersionRow, now: Date): boolean {
  const until = row.record.meta?.validUntil;
  return until !== undefined && Date.parse(until) <= now.getTime();
}

/**
 * Reads the indicators at `tlps` page by page in log order (database paging, as TAXII):
 * all in force without `since`, else the additions and removals after it.
 */
export async function collect(deps: ExportDeps, tlps: readonly Tlp[], since: number | undefined): Promise<Collected> {
  const now = deps.now();
  const watermark = await deps.reader.watermark();
  const items: ExportItem[] = [];
  let pos = since ?? -1;
  for (;;) {
    const page = await deps.reader.versions({ tlps, after: pos, view: 'last', limit: deps.pageSize ?? PAGE }, watermark);
    for (const row of page.rows) {
      pos = row.index;
      const it = row.kind === 'revoke' ? (since === undefined ? undefined : item(row, 'remove')) : expired(row, now) ? undefined : item(row, 'add');
      if (it !== undefined) items.push(it);
    }
    if (!page.more || page.rows.length === 0) break;
  }
  return { items, cursor: encodeCursor(pos, EXPORT_FP) };
}

/** Every export file path (under /exports/) and what renders it; MISP event files are listed in its manifest. */
export const EXPORT_FILES: readonly ExportFile[] = [...SURICATA_FILES, ...OTHER_FILES];

/** Renders every file of a full export: path → content (MISP feed included). */
export function renderAll(items: readonly ExportItem[], header: ExportHeader): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of EXPORT_FILES) out.set(f.path, f.render(items, header));
  for (const [name, text] of mispFeed(header.partnerId, items).files) out.set(`misp/${name}`, text);
  return out;
}

function etagOf(body: string): string {
  return `"${hash('sha256', body, 'base64url').slice(0, 32)}"`;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: `${text}\n` };
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  return ifNoneMatch !== undefined && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag));
}

function countOf(path: string, body: string): number {
  if (path.endsWith('.json')) return (body.match(/"to_ids":true/g) ?? []).length;
  return body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length - (path.endsWith('.csv') && !path.startsWith('misp/') ? 1 : 0);
}

function sinceOf(req: ServeRequest): number | undefined | Reply {
  const text = req.query.get('since');
  if (text === null) return undefined;
  try {
    return decodeCursor(text, EXPORT_FP);
  } catch (err) {
    if (err instanceof CursorError) return plain(400, `since: ${err.message.replace('next', 'the cursor')}; use the X-ThreatMesh-Cursor of an earlier export`);
    throw err;
  }
}

/** The body of `path` (undefined: no such MISP file). */
function renderPath(deps: ExportDeps, path: string, got: Collected, tlps: readonly Tlp[]): { body: string | undefined; contentType: string } {
  const file = EXPORT_FILES.find((f) => f.path === path);
  if (file !== undefined) return { body: file.render(got.items, { partnerId: deps.partnerId, cursor: got.cursor, tlps }), contentType: file.contentType };
  return { body: mispFeed(deps.partnerId, got.items).files.get(path.slice('misp/'.length)), contentType: 'application/json' };
}

/** Handles GET /exports/… for an authenticated caller. */
export async function handleExport(deps: ExportDeps, caller: Caller, req: ServeRequest): Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'exports are read with GET', { allow: 'GET, HEAD' });
  const path = req.segments.slice(1).join('/');
  if (path === '') return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ files: [...EXPORT_FILES.map((f) => f.path), 'misp/manifest.json', 'misp/hashes.csv'] }) };
  const misp = path.startsWith('misp/');
  if (!misp && !EXPORT_FILES.some((f) => f.path === path)) return plain(404, `no export ${path}; GET /exports/ lists them`);
  const since = sinceOf(req);
  if (typeof since === 'object') return since;
  if (misp && since !== undefined) return plain(400, 'a MISP feed is always full: drop since (MISP fetches only the events whose timestamp changed)');
  const got = await collect(deps, caller.consumer.tlps, since);
  const { body, contentType } = renderPath(deps, path, got, caller.consumer.tlps);
  if (body === undefined) return plain(404, `no MISP feed file ${path}; read misp/manifest.json for the event files`);
  const etag = etagOf(body);
  const notModified = matchesEtag(req.headers['if-none-match'], etag);
  const status = notModified ? 304 : 200;
  await deps.audit.record({ at: deps.now(), identity: caller.consumer.name, via: caller.via, api: 'export', action: since === undefined ? 'full' : 'incremental', resource: path, count: notModified ? 0 : countOf(path, body), status });
  const headers = { 'content-type': contentType, etag, 'cache-control': 'no-cache', 'x-threatmesh-cursor': got.cursor };
  return { status, headers, body: notModified || req.method === 'HEAD' ? '' : body };
}
