/**
 * TAXII 2.1 client (OASIS TAXII 2.1 §4–5): discovery (`/taxii2/`), API root, collections, and
 * the objects of a collection with `added_after` and pagination (`limit`, `more` / `next`,
 * falling back to `X-TAXII-Date-Added-Last` when a server sets `more` without `next`).
 * Requests carry `Accept: application/taxii+json;version=2.1` and basic or bearer credentials,
 * which go only to the discovery URL's origin (`credentialOrigin`): an API root that the
 * discovery document names on another host is asked without them, as a redirect would be.
 * A server that loops (repeats a `next`, does not advance `added_after`, or exceeds
 * `maxPages`) fails with FeedError('pagination-loop') instead of running forever. Each page is
 * read whole, bounded by `maxPageBytes`: pages are small by design (the server's `limit`).
 */
import { fetchUrl, type FetchOptions } from './fetch.ts';
import { stixObjectToRecords } from './stix.ts';
import { looksLikeHtml } from './text.ts';
import { FeedError, newBatch, type ParseBatch } from './types.ts';

/** The TAXII 2.1 media type. */
export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';

/** Options of the TAXII client. */
export interface TaxiiOptions {
  /** Passed to every request (credentials, timeouts, retries). */
  readonly fetch?: Omit<FetchOptions, 'etag' | 'lastModified' | 'headers' | 'unpack'>;
  /** Largest page body. @default 64 MiB */
  readonly maxPageBytes?: number;
}

/** A discovery resource. */
export interface TaxiiDiscovery {
  readonly title?: string;
  readonly default?: string;
  readonly api_roots?: string[];
}

/** A collection resource. */
export interface TaxiiCollection {
  readonly id: string;
  readonly title?: string;
  readonly can_read?: boolean;
  readonly can_write?: boolean;
}

async function getJson(url: string, opts: TaxiiOptions): Promise<{ body: unknown; headers: { dateAddedLast?: string } }> {
  const max = opts.maxPageBytes ?? 64 * 1024 * 1024;
  const res = await fetchUrl(url, { ...opts.fetch, maxBytes: max, maxDecompressedBytes: max, unpack: false, headers: { accept: TAXII_MEDIA_TYPE } });
  if (res.status !== 'ok') throw new FeedError('http-status', `unexpected 304 from ${url}`);
  const parts: Buffer[] = [];
  for await (const c of res.body) parts.push(c);
  const buf = Buffer.concat(parts);
  if (looksLikeHtml(buf.subarray(0, 64))) throw new FeedError('html-instead-of-data', `${url} returned an HTML page instead of TAXII JSON; check the URL and the credentials`);
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new FeedError('invalid-json', `${url} returned invalid JSON: ${(err as Error).message}`);
  }
  return { body, headers: { dateAddedLast: res.header('x-taxii-date-added-last') } };
}

/** Reads the discovery resource at `url` (e.g. https://host/taxii2/). */
export async function discover(url: string, opts: TaxiiOptions = {}): Promise<TaxiiDiscovery> {
  const { body } = await getJson(url, opts);
  if (body === null || typeof body !== 'object') throw new FeedError('invalid-json', `${url} is not a TAXII discovery resource`);
  return body;
}

/** Lists the collections of an API root. */
export async function listCollections(apiRoot: string, opts: TaxiiOptions = {}): Promise<TaxiiCollection[]> {
  const { body } = await getJson(new URL('collections/', withSlash(apiRoot)).toString(), opts);
  const cols = (body as { collections?: unknown } | null)?.collections;
  if (cols === undefined) return [];
  if (!Array.isArray(cols)) throw new FeedError('invalid-json', `${apiRoot}collections/ has no collections array`);
  return cols as TaxiiCollection[];
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

/**
 * Finds the API root to use: `apiRoot` if given (resolved against the discovery URL), else the
 * discovery resource's `default`, else its only API root.
 */
export async function resolveApiRoot(discoveryUrl: string, apiRoot: string | undefined, opts: TaxiiOptions = {}): Promise<string> {
  if (apiRoot !== undefined && apiRoot !== '') return withSlash(new URL(apiRoot, discoveryUrl).toString());
  const d = await discover(discoveryUrl, opts);
  const chosen = d.default ?? (d.api_roots?.length === 1 ? d.api_roots[0] : undefined);
  if (chosen === undefined) throw new FeedError('bad-config', `TAXII server ${discoveryUrl} has ${d.api_roots?.length ?? 0} API roots and no default; set taxii.apiRoot to one of: ${(d.api_roots ?? []).join(', ')}`);
  return withSlash(new URL(chosen, discoveryUrl).toString());
}

/** Finds a readable collection by id or title. */
export async function resolveCollection(apiRoot: string, idOrTitle: string, opts: TaxiiOptions = {}): Promise<TaxiiCollection> {
  const cols = await listCollections(apiRoot, opts);
  const c = cols.find((x) => x.id === idOrTitle) ?? cols.find((x) => x.title === idOrTitle);
  if (c === undefined) throw new FeedError('bad-config', `TAXII API root ${apiRoot} has no collection "${idOrTitle}"; available: ${cols.map((x) => `${x.id} (${x.title ?? ''})`).join(', ')}`);
  if (c.can_read === false) throw new FeedError('http-status', `TAXII collection ${c.id} is not readable with these credentials`);
  return c;
}

/** Options of `taxiiObjects`. */
export interface ObjectsOptions extends TaxiiOptions {
  /** Only objects added after this timestamp (RFC 3339). */
  readonly addedAfter?: string | undefined;
  /** Page size asked of the server. */
  readonly limit?: number | undefined;
  /** @default 10000 */
  readonly maxPages?: number;
  /** Receives the latest `X-TAXII-Date-Added-Last`, the cursor for the next run. */
  readonly onCursor?: (dateAddedLast: string) => void;
}

/** Streams the objects of a collection as parse batches, one per page. */
export async function* taxiiObjects(apiRoot: string, collectionId: string, opts: ObjectsOptions = {}): AsyncGenerator<ParseBatch> {
  const base = new URL(`collections/${encodeURIComponent(collectionId)}/objects/`, withSlash(apiRoot));
  const seenNext = new Set<string>();
  const maxPages = opts.maxPages ?? 10_000;
  let addedAfter = opts.addedAfter;
  let next: string | undefined;
  for (let page = 1; ; page++) {
    if (page > maxPages) throw new FeedError('pagination-loop', `TAXII server returned more than ${maxPages} pages for collection ${collectionId}; stopping (raise maxPages if the collection is really that large)`);
    const url = pageUrl(base, addedAfter, opts.limit, next);
    const { body, headers } = await getJson(url, opts);
    const env = body as { more?: unknown; next?: unknown; objects?: unknown } | null;
    if (env === null || typeof env !== 'object') throw new FeedError('invalid-json', `${url} is not a TAXII envelope`);
    const objects = Array.isArray(env.objects) ? (env.objects as unknown[]) : [];
    const out = newBatch();
    objects.forEach((o, i) => stixObjectToRecords(o, out, `page ${page} objects[${i}]`));
    if (headers.dateAddedLast !== undefined) opts.onCursor?.(headers.dateAddedLast);
    yield out;
    if (env.more !== true) return;
    const step = nextPage(env.next, headers.dateAddedLast, addedAfter, seenNext);
    addedAfter = step.addedAfter;
    next = step.next;
  }
}

/** Where the next page starts, or a pagination-loop error. */
function nextPage(next: unknown, dateAddedLast: string | undefined, addedAfter: string | undefined, seen: Set<string>): { addedAfter: string | undefined; next: string | undefined } {
  if (typeof next === 'string' && next !== '') {
    if (seen.has(next)) throw new FeedError('pagination-loop', `TAXII server repeated the page token next=${next.slice(0, 64)}; it is looping, stopping`);
    seen.add(next);
    return { addedAfter, next };
  }
  if (dateAddedLast === undefined || dateAddedLast === addedAfter) {
    throw new FeedError('pagination-loop', 'TAXII server says more=true but gives neither next nor an advancing X-TAXII-Date-Added-Last; stopping');
  }
  return { addedAfter: dateAddedLast, next: undefined };
}

function pageUrl(base: URL, addedAfter: string | undefined, limit: number | undefined, next: string | undefined): string {
  const u = new URL(base);
  if (addedAfter !== undefined) u.searchParams.set('added_after', addedAfter);
  if (limit !== undefined) u.searchParams.set('limit', String(limit));
  if (next !== undefined) u.searchParams.set('next', next);
  return u.toString();
}
