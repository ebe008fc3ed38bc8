/**
 * TAXII 2.1 responses (feeds/taxii.ts taxiiObjects) over real HTTP on loopback: each case is a
 * collection served by a local server as one to three envelope pages (objects, `more`, `next`,
 * X-TAXII-Date-Added-Last), often mutated: broken JSON, HTML, odd statuses and content types,
 * `more` without a way on, a repeated `next`, envelopes of the wrong shape. Properties: the
 * client ends (records or a FeedError, never another exception, never a hang) and a valid
 * collection gives exactly its indicator objects' records, page after page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { taxiiObjects } from '../../operator/src/feeds/taxii.ts';
import { stixObjectToRecords } from '../../operator/src/feeds/stix.ts';
import { drain } from '../../operator/src/feeds/testing.ts';
import { FeedError, newBatch } from '../../operator/src/feeds/types.ts';
import { mutate } from '../mutate.ts';
import type { Rng } from '../rng.ts';
import { Finding, same, type FuzzTarget } from '../target.ts';
import { genJson, JSON_TOKENS } from './canonical.ts';
import { genValue } from '../gen.ts';

interface Page { status: number; contentType: string; body: string; dateAddedLast?: string }

const scenarios = new Map<string, Page[]>();
let server: Server | undefined;
let base = '';
let counter = 0;

function pageIndex(url: URL, pages: readonly Page[]): number {
  const next = url.searchParams.get('next');
  if (next !== null) return Number(next.replace(/^p/, '')) || 0;
  const after = url.searchParams.get('added_after');
  if (after === null) return 0;
  const i = pages.findIndex((p) => p.dateAddedLast === after);
  return i < 0 ? pages.length : i + 1;
}

async function setup(): Promise<void> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const pages = scenarios.get(url.pathname.split('/')[1] ?? '') ?? [];
    const page = pages[pageIndex(url, pages)];
    if (page === undefined) {
      res.writeHead(404, { 'content-type': 'application/taxii+json;version=2.1' }).end('{"title":"no such page"}');
      return;
    }
    res.writeHead(page.status, { 'content-type': page.contentType, ...(page.dateAddedLast !== undefined ? { 'x-taxii-date-added-last': page.dateAddedLast } : {}) }).end(page.body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function genObject(rng: Rng, i: number): unknown {
  if (rng.chance(0.15)) return rng.chance(0.5) ? { type: 'malware', id: `malware--${i}`, name: 'x' } : genJson(rng);
  const g = genValue(rng);
  const prop = rng.pick(['domain-name:value', 'ipv4-addr:value', 'ipv6-addr:value', 'url:value', "file:hashes.'SHA-256'", 'email-addr:value']);
  return { type: 'indicator', spec_version: '2.1', id: `indicator--${i}`, pattern_type: 'stix', pattern: `[${prop} = '${g.raw.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}']`, valid_from: '2026-01-01T00:00:00Z' };
}

function genPages(rng: Rng): { pages: Page[]; objects: unknown[][] } {
  const n = rng.range(1, 3);
  const useNext = rng.chance(0.5);
  const objects: unknown[][] = [];
  const pages: Page[] = [];
  for (let p = 0; p < n; p++) {
    const objs = Array.from({ length: rng.small(6) }, (_, i) => genObject(rng, p * 100 + i));
    objects.push(objs);
    const more = p < n - 1;
    const env = { more, ...(more && useNext ? { next: `p${p + 1}` } : {}), objects: objs };
    pages.push({ status: 200, contentType: 'application/taxii+json;version=2.1', body: JSON.stringify(env), dateAddedLast: `2026-01-0${p + 1}T00:00:00.000Z` });
  }
  return { pages, objects };
}

function spoil(rng: Rng, pages: Page[]): void {
  const p = rng.pick(pages);
  switch (rng.int(7)) {
    case 0: p.body = mutate(rng, p.body, [...JSON_TOKENS, '"more":true,', '"next":"p0",', '"objects":', '<html>']); break;
    case 1: p.status = rng.pick([204, 301, 304, 400, 401, 404, 429, 500, 503]); break;
    case 2: p.contentType = rng.pick(['text/html', 'application/json', '', 'application/taxii+json;version=2.0']); p.body = rng.chance(0.5) ? '<!DOCTYPE html><html>login</html>' : p.body; break;
    case 3: p.body = p.body.replace('"more":false', '"more":true'); delete p.dateAddedLast; break;
    case 4: p.body = p.body.replace(/"next":"p\d"/, '"next":"p0"').replace('"more":false', '"more":true,"next":"p0"'); break;
    case 5: p.body = JSON.stringify(rng.pick([null, [], 'objects', 1, { objects: {} }, { more: 'yes', objects: [1, null] }])); break;
    default: p.dateAddedLast = rng.pick(['', 'not a date', '2026-01-01T00:00:00.000Z']); p.body = p.body.replace(/,"next":"p\d"/, ''); break;
  }
}

async function run(rng: Rng): Promise<void> {
  const { pages, objects } = genPages(rng);
  const spoiled = rng.chance(0.6);
  if (spoiled) for (let k = rng.range(1, 2); k > 0; k--) spoil(rng, pages);
  const id = `c${counter++}`;
  scenarios.set(id, pages);
  const input = JSON.stringify(pages);
  try {
    const out = await drain(taxiiObjects(`${base}/${id}/`, 'col', { maxPageBytes: 1 << 20, fetch: { allowInternal: ['127.0.0.1/32'], retries: 0, connectTimeoutMs: 10_000, idleTimeoutMs: 10_000, timeoutMs: 15_000 }, maxPages: 20 }));
    if (!spoiled) {
      const b = newBatch();
      objects.forEach((objs, p) => objs.forEach((o, i) => stixObjectToRecords(o, b, `page ${p + 1} objects[${i}]`)));
      same(out.records.map((r) => [r.value, r.type, r.where]), b.records.map((r) => [r.value, r.type, r.where]), 'records', input);
    }
  } catch (err) {
    if (err instanceof Finding) throw err;
    if (!(err instanceof FeedError)) throw new Finding('crash', err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err), input);
    if (!spoiled) throw new Finding('valid-collection', `a valid collection failed: ${err.code}: ${err.message}`, input);
  } finally {
    scenarios.delete(id);
  }
}

async function teardown(): Promise<void> {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
}

/** The TAXII responses target. */
export const taxiiTarget: FuzzTarget = { name: 'taxii', description: 'taxiiObjects against a loopback TAXII server serving generated and spoiled envelope pages', setup, run, teardown };
