/**
 * Feed fetching and TAXII against real local servers on 127.0.0.1: conditional GET (ETag,
 * Last-Modified → 304), retries on 5xx but not 4xx, gzip (Content-Encoding and .gz), zip
 * (single and named member), HTML instead of CSV, a gzip bomb, truncated and slow downloads,
 * credentials; a TAXII 2.1 server with discovery, collections, pagination via more/next,
 * added_after and auth, and looping servers; and the `threatmesh ingest` CLI end to end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { fetchUrl, type FetchOptions } from '../../operator/src/feeds/fetch.ts';
import { runIngestion, type IngestionConfig, type IngestSink } from '../../operator/src/feeds/ingest.ts';
import type { IngestedIndicator, RunReport } from '../../operator/src/feeds/pipeline.ts';
import { PRESETS } from '../../operator/src/feeds/presets.ts';
import { TAXII_MEDIA_TYPE } from '../../operator/src/feeds/taxii.ts';
import { FeedError } from '../../operator/src/feeds/types.ts';
import { loadWarningLists, type WarningList } from '../../operator/src/feeds/warninglists.ts';
import { zipOf } from '../harness/zip.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const fixtures = fileURLToPath(new URL('../../operator/src/feeds/fixtures/', import.meta.url));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(handler: Handler, host = '127.0.0.1'): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return { server, base: `http://${host}:${(server.address() as AddressInfo).port}` };
}

const hits = new Map<string, number>();
// The test servers listen on loopback, which feeds may only reach when allowed (destinations.ts).
const LOOPBACK = '127.0.0.1/32';
const noSleep: FetchOptions = { backoffMs: 1, sleep: () => Promise.resolve(), allowInternal: [LOOPBACK] };
let feodoCsv: Buffer;
let encodedZipBomb: { gzip: Buffer; br: Buffer };
let feeds: { server: Server; base: string };
// A server on another loopback address, standing for an internal service that feeds must not reach.
let inside: { server: Server; base: string; hits: number };

function feedServer(): Handler {
  const etag = '"feodo-v1"';
  const lastModified = 'Tue, 25 Nov 2026 18:00:09 GMT';
  const ok = (res: ServerResponse, data: Buffer | string, headers: Record<string, string> = {}): void => {
    res.writeHead(200, headers);
    res.end(data);
  };
  const status = (res: ServerResponse, code: number, headers: Record<string, string> = {}): void => {
    res.writeHead(code, headers);
    res.end();
  };
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, n: number) => void> = {
    '/feodo.csv': (req, res) => {
      if (req.headers['if-none-match'] === etag || req.headers['if-modified-since'] === lastModified) status(res, 304, { etag });
      else ok(res, feodoCsv, { 'content-type': 'text/csv', etag, 'last-modified': lastModified });
    },
    '/flaky.csv': (_req, res, n) => (n <= 2 ? status(res, 503) : ok(res, feodoCsv)),
    '/always-500': (_req, res) => status(res, 502),
    '/gone': (_req, res) => status(res, 404),
    '/encoded.csv': (_req, res) => ok(res, gzipSync(feodoCsv), { 'content-encoding': 'gzip' }),
    '/feodo.csv.gz': (_req, res) => ok(res, gzipSync(feodoCsv), { 'content-type': 'application/gzip' }),
    '/feodo.zip': (_req, res) => ok(res, zipOf([['ipblocklist.csv', feodoCsv]], true)),
    '/two.zip': (_req, res) => ok(res, zipOf([['readme.txt', Buffer.from('hello')], ['ipblocklist.csv', feodoCsv]], true)),
    '/login.html': (_req, res) => ok(res, '<!DOCTYPE html>\n<html><body>Please log in</body></html>', { 'content-type': 'text/csv' }),
    '/bomb.gz': (_req, res) => ok(res, gzipSync(Buffer.alloc(20 << 20, 0x41))),
    // A "zip" (local-header magic, then 32 MiB of zeros) sent with Content-Encoding: tens of KB on the wire.
    '/bomb-gzip.zip': (_req, res) => ok(res, encodedZipBomb.gzip, { 'content-encoding': 'gzip' }),
    '/bomb-br.zip': (_req, res) => ok(res, encodedZipBomb.br, { 'content-encoding': 'br' }),
    '/bomb-br.json': (_req, res) => ok(res, encodedZipBomb.br, { 'content-encoding': 'br', 'content-type': 'application/taxii+json;version=2.1' }),
    '/truncated.csv': (_req, res) => {
      res.writeHead(200, { 'content-length': String(feodoCsv.length * 2) });
      res.write(feodoCsv);
      setTimeout(() => res.destroy(), 20);
    },
    '/truncated.gz': (_req, res) => ok(res, gzipSync(feodoCsv).subarray(0, 200)),
    // Sends the start of a body and then nothing: the client's idle or total timeout must fire.
    '/slow.csv': (_req, res) => {
      res.writeHead(200);
      res.write('# "first_seen_utc","dst_ip"\n');
    },
    // Never answers: the client's connect (response headers) timeout must fire.
    '/no-headers': () => undefined,
    '/private.csv': (req, res) => {
      if (req.headers.authorization === `Basic ${Buffer.from('feeduser:s3cret').toString('base64')}`) ok(res, feodoCsv);
      else status(res, 401);
    },
    '/redirect': (_req, res) => status(res, 302, { location: '/feodo.csv' }),
    // Redirects inward: to another loopback address (a second server on 127.0.0.2), and to the cloud metadata service.
    '/redirect-inside': (_req, res) => status(res, 302, { location: `${inside.base}/admin` }),
    '/redirect-metadata': (_req, res) => status(res, 302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }),
  };
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    (routes[path] ?? ((_q: IncomingMessage, r: ServerResponse) => status(r, 404)))(req, res, n);
  };
}

async function body(r: Awaited<ReturnType<typeof fetchUrl>>): Promise<string> {
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return '';
  const parts: Buffer[] = [];
  for await (const c of r.body) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

const rejectsWith = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof FeedError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

before(async () => {
  feodoCsv = await readFile(`${fixtures}feodo-ipblocklist.csv`);
  const bomb = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(32 << 20)]);
  encodedZipBomb = { gzip: gzipSync(bomb), br: brotliCompressSync(bomb, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } }) };
  feeds = await listen(feedServer());
  const i = { hits: 0 };
  inside = { ...(await listen((_req, res) => { i.hits++; res.end('secret'); }, '127.0.0.2')), get hits() { return i.hits; } };
});
after(() => {
  feeds.server.closeAllConnections();
  feeds.server.close();
  inside.server.close();
});

describe('feeds may not reach internal addresses (trust model: SSRF)', () => {
  const plain: FetchOptions = { backoffMs: 1, sleep: () => Promise.resolve() };
  const port = (): string => new URL(feeds.base).port;
  // Every one of these reaches the test server (or would) through loopback, link-local or an IPv6 form of it.
  const refused: Array<[string, () => string]> = [
    ['an IPv4 loopback literal', () => `http://127.0.0.1:${port()}/feodo.csv`],
    ['a DNS name that resolves to loopback (checked at connect time)', () => `http://localhost:${port()}/feodo.csv`],
    ['an IPv4-mapped IPv6 literal', () => `http://[::ffff:127.0.0.1]:${port()}/feodo.csv`],
    ['the IPv6 loopback', () => `http://[::1]:${port()}/feodo.csv`],
    ['the cloud metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private address', () => 'http://10.0.0.1/feed.csv'],
  ];
  for (const [name, url] of refused) {
    test(`refused without an allowance: ${name}`, async () => {
      const before = hits.get('/feodo.csv') ?? 0;
      const retries: number[] = [];
      await assert.rejects(fetchUrl(url(), { ...plain, connectTimeoutMs: 2000, onRetry: (a) => retries.push(a) }), (e: unknown) => {
        assert.ok(e instanceof FeedError && e.code === 'forbidden-destination', String(e));
        assert.match(e.message, /--allow-internal-feeds/);
        return true;
      });
      assert.equal(hits.get('/feodo.csv') ?? 0, before, 'no request reached the server');
      assert.deepEqual(retries, [], 'a refused destination is not retried');
    });
  }

  test('redirects are checked too: an allowed feed cannot redirect to another internal address or to the metadata service', async () => {
    const allowed = { ...plain, allowInternal: [LOOPBACK] };
    await assert.rejects(fetchUrl(`${feeds.base}/redirect-inside`, allowed), rejectsWith('forbidden-destination'));
    assert.equal(inside.hits, 0, 'the internal service saw nothing');
    await assert.rejects(fetchUrl(`${feeds.base}/redirect-metadata`, { ...allowed, connectTimeoutMs: 2000 }), rejectsWith('forbidden-destination'));
    // The allowance is exactly what it names: with 127.0.0.2 allowed too, the same redirect is followed.
    assert.equal(await body(await fetchUrl(`${feeds.base}/redirect-inside`, { ...plain, allowInternal: [LOOPBACK, '127.0.0.2/32'] })), 'secret');
  });

  test('threatmesh ingest refuses an internal feed without --allow-internal-feeds and says how to allow it', async () => {
    const r = await runCli(['ingest', '--source', `${feeds.base}/feodo.csv`, '--preset', 'feodo', '--dry-run']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /forbidden-destination.*127\.0\.0\.1 is loopback.*--allow-internal-feeds/);
    const bad = await runCli(['ingest', '--source', `${feeds.base}/feodo.csv`, '--preset', 'feodo', '--dry-run', '--allow-internal-feeds', '127.0.0.1/33']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--allow-internal-feeds.*127\.0\.0\.1\/33/);
  });
});

describe('fetchUrl against a local HTTP server', () => {
  test('conditional GET: ETag and Last-Modified are returned and a matching request gets not-modified', async () => {
    const first = await fetchUrl(`${feeds.base}/feodo.csv`, noSleep);
    assert.equal(await body(first), feodoCsv.toString('utf8'));
    assert.ok(first.status === 'ok');
    assert.equal(first.etag, '"feodo-v1"');
    const again = await fetchUrl(`${feeds.base}/feodo.csv`, { ...noSleep, etag: first.etag });
    assert.equal(again.status, 'not-modified');
    const since = await fetchUrl(`${feeds.base}/feodo.csv`, { ...noSleep, lastModified: first.lastModified });
    assert.equal(since.status, 'not-modified');
  });

  test('5xx is retried with backoff, 4xx is not', async () => {
    const retries: number[] = [];
    assert.equal(await body(await fetchUrl(`${feeds.base}/flaky.csv`, { ...noSleep, onRetry: (a) => retries.push(a) })), feodoCsv.toString('utf8'));
    assert.deepEqual(retries, [1, 2]);
    await assert.rejects(fetchUrl(`${feeds.base}/always-500`, { ...noSleep, retries: 2 }), rejectsWith('http-status'));
    assert.equal(hits.get('/always-500'), 3);
    await assert.rejects(fetchUrl(`${feeds.base}/gone`, noSleep), rejectsWith('http-status'));
    assert.equal(hits.get('/gone'), 1);
  });

  test('gzip by Content-Encoding and by magic bytes; zip with one member, or a named one', async () => {
    const want = feodoCsv.toString('utf8');
    assert.equal(await body(await fetchUrl(`${feeds.base}/encoded.csv`, noSleep)), want);
    assert.equal(await body(await fetchUrl(`${feeds.base}/feodo.csv.gz`, noSleep)), want);
    assert.equal(await body(await fetchUrl(`${feeds.base}/feodo.zip`, noSleep)), want);
    assert.equal(await body(await fetchUrl(`${feeds.base}/two.zip`, { ...noSleep, zipMember: 'ipblocklist.csv' })), want);
    await assert.rejects(body(await fetchUrl(`${feeds.base}/two.zip`, noSleep)), rejectsWith('bad-archive'));
  });

  test('a gzip bomb stops at the decompressed size limit', async () => {
    await assert.rejects(body(await fetchUrl(`${feeds.base}/bomb.gz`, { ...noSleep, maxDecompressedBytes: 1 << 20 })), rejectsWith('too-large'));
    await assert.rejects(body(await fetchUrl(`${feeds.base}/bomb.gz`, { ...noSleep, maxBytes: 1000 })), rejectsWith('too-large'));
  });

  test('Content-Encoding cannot smuggle a bomb past the limits: the zip spool and unpacked pages count decoded bytes (trust model)', async () => {
    assert.ok(encodedZipBomb.gzip.length < 64 * 1024 && encodedZipBomb.br.length < 64 * 1024, 'the attack sends little');
    for (const path of ['/bomb-gzip.zip', '/bomb-br.zip']) {
      // Before: 32 MiB went to the spool file whatever the limits, and the run failed later as bad-archive.
      await assert.rejects(body(await fetchUrl(`${feeds.base}${path}`, { ...noSleep, maxBytes: 1 << 20 })), rejectsWith('too-large'), `${path} maxBytes`);
      await assert.rejects(body(await fetchUrl(`${feeds.base}${path}`, { ...noSleep, maxDecompressedBytes: 1 << 20 })), rejectsWith('too-large'), `${path} maxDecompressedBytes`);
    }
    // Without unpacking (how TAXII pages are read), the decoded bytes are counted too.
    await assert.rejects(body(await fetchUrl(`${feeds.base}/bomb-br.json`, { ...noSleep, unpack: false, maxDecompressedBytes: 1 << 20 })), rejectsWith('too-large'));
  });

  test('truncated downloads and truncated gzip are errors, not short feeds', async () => {
    await assert.rejects(body(await fetchUrl(`${feeds.base}/truncated.csv`, noSleep)), rejectsWith('truncated'));
    await assert.rejects(body(await fetchUrl(`${feeds.base}/truncated.gz`, noSleep)), rejectsWith('truncated'));
  });

  test('a server that stalls hits the idle/total timeout; one that never answers the connect timeout', async () => {
    await assert.rejects(body(await fetchUrl(`${feeds.base}/slow.csv`, { ...noSleep, idleTimeoutMs: 200 })), rejectsWith('timeout'));
    await assert.rejects(body(await fetchUrl(`${feeds.base}/slow.csv`, { ...noSleep, timeoutMs: 300 })), rejectsWith('timeout'));
    await assert.rejects(fetchUrl(`${feeds.base}/no-headers`, { ...noSleep, connectTimeoutMs: 200, retries: 1 }), rejectsWith('timeout'));
    assert.equal(hits.get('/no-headers'), 2);
  });

  test('credentials are sent; wrong ones give a clear 401; redirects are followed', async () => {
    assert.equal(await body(await fetchUrl(`${feeds.base}/private.csv`, { ...noSleep, credentials: { kind: 'basic', username: 'feeduser', password: 's3cret' } })), feodoCsv.toString('utf8'));
    await assert.rejects(fetchUrl(`${feeds.base}/private.csv`, { ...noSleep, credentials: { kind: 'basic', username: 'feeduser', password: 'wrong' } }), (e: unknown) => e instanceof FeedError && /401.*credentials/.test(e.message));
    assert.equal(await body(await fetchUrl(`${feeds.base}/redirect`, noSleep)), feodoCsv.toString('utf8'));
  });
});

function collectingSink(): IngestSink & { items: IngestedIndicator[]; outcome: string } {
  const s = { items: [] as IngestedIndicator[], outcome: 'open', add: (i: IngestedIndicator) => { s.items.push(i); }, commit: (_r: RunReport) => { s.outcome = 'committed'; return Promise.resolve(); }, abort: (_r: RunReport) => { s.outcome = 'aborted'; return Promise.resolve(); } };
  return s;
}

describe('runIngestion over HTTP', () => {
  let wl: WarningList;
  before(async () => { wl = await loadWarningLists(); });
  const feodo = (path: string, fetch: FetchOptions = {}): IngestionConfig => ({ source: { kind: 'url', url: `${feeds.base}${path}` }, parser: PRESETS['feodo']!.parser, fetch: { ...noSleep, ...fetch } });

  test('feodo preset over HTTP, then not-modified with the returned ETag', async () => {
    const s = collectingSink();
    const r = await runIngestion(feodo('/feodo.csv'), { sink: s, warningList: wl });
    assert.equal(r.report.outcome, 'succeeded');
    assert.deepEqual(s.items.map((i) => i.value), ['51.178.161.32', '162.243.103.246', '185.117.73.147']);
    assert.equal(r.report.bytes, feodoCsv.length);
    assert.equal(s.outcome, 'committed');
    const again = await runIngestion(feodo('/feodo.csv', { etag: r.etag }), { sink: collectingSink(), warningList: wl });
    assert.equal(again.report.outcome, 'not-modified');
  });

  test('HTML instead of CSV, truncated transfer, zip and gzip: failures are rolled back, archives are read', async () => {
    for (const [path, code] of [['/login.html', 'html-instead-of-data'], ['/truncated.csv', 'truncated'], ['/bomb.gz', 'too-large']] as const) {
      const s = collectingSink();
      const r = await runIngestion(feodo(path, { maxDecompressedBytes: 1 << 20 }), { sink: s, warningList: wl });
      assert.equal(r.report.outcome, 'failed', path);
      assert.equal(r.report.error?.code, code, path);
      assert.equal(s.outcome, 'aborted', path);
    }
    for (const path of ['/feodo.zip', '/feodo.csv.gz', '/encoded.csv']) {
      const s = collectingSink();
      assert.equal((await runIngestion(feodo(path), { sink: s, warningList: wl })).report.new, 3, path);
    }
  });
});

// ---------------------------------------------------------------- TAXII 2.1

const TOKEN = 'taxii-token-123';
const COLLECTION = '91a7b528-80eb-42ed-a74d-c6fbd5a26116';

function indicatorObj(i: number): Record<string, unknown> {
  const ip = `45.${Math.floor(i / 250) + 1}.${i % 250}.9`;
  return { type: 'indicator', spec_version: '2.1', id: `indicator--00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, created: '2026-11-20T00:00:00.000Z', modified: '2026-11-20T00:00:00.000Z', pattern: `[ipv4-addr:value = '${ip}']`, pattern_type: 'stix', valid_from: '2026-11-20T00:00:00Z' };
}

/** A TAXII 2.1 server: 5 indicators + 1 malware object, served 2 per page with next tokens. */
function taxiiServer(seen: string[]): Handler {
  const objects = [...[0, 1, 2, 3, 4].map(indicatorObj), { type: 'malware', spec_version: '2.1', id: 'malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b', name: 'x', is_family: true }];
  const added = objects.map((_, i) => `2026-11-2${i}T00:00:00.000Z`);
  const send = (res: ServerResponse, status: number, obj: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': TAXII_MEDIA_TYPE, ...headers });
    res.end(JSON.stringify(obj));
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { title: 'unauthorized' });
    if (!(req.headers.accept ?? '').includes('application/taxii+json')) return send(res, 406, { title: 'not acceptable' });
    if (url.pathname === '/taxii2/') return send(res, 200, { title: 'test', default: '/api1/', api_roots: ['/api1/'] });
    if (url.pathname === '/api1/collections/') return send(res, 200, { collections: [{ id: COLLECTION, title: 'Indicators', can_read: true, can_write: false }, { id: 'loop-next', title: 'Loop', can_read: true }, { id: 'loop-date', title: 'Stuck', can_read: true }] });
    if (url.pathname === '/api1/collections/loop-next/objects/') return send(res, 200, { more: true, next: 'same-token', objects: [indicatorObj(7)] });
    if (url.pathname === '/api1/collections/loop-date/objects/') return send(res, 200, { more: true, objects: [] }, { 'x-taxii-date-added-last': '2026-11-20T00:00:00.000Z' });
    if (url.pathname !== `/api1/collections/${COLLECTION}/objects/`) return send(res, 404, { title: 'no such collection' });
    const after = url.searchParams.get('added_after');
    const from = Number(url.searchParams.get('next') ?? '0');
    const eligible = objects.map((o, i) => ({ o, i })).filter(({ i }) => after === null || added[i]! > after);
    const page = eligible.slice(from, from + 2);
    const more = from + 2 < eligible.length;
    const last = page.at(-1);
    send(res, 200, { more, ...(more ? { next: String(from + 2) } : {}), objects: page.map((p) => p.o) }, last === undefined ? {} : { 'x-taxii-date-added-last': added[last.i]! });
  };
}

describe('TAXII 2.1 client against a local TAXII server', () => {
  let taxii: { server: Server; base: string };
  const seen: string[] = [];
  before(async () => { taxii = await listen(taxiiServer(seen)); });
  after(() => taxii.server.close());
  const cfg = (collection: string, extra: Partial<IngestionConfig> = {}): IngestionConfig => ({
    source: { kind: 'taxii', discoveryUrl: `${taxii.base}/taxii2/`, collection },
    parser: { format: 'taxii' },
    fetch: { ...noSleep, credentials: { kind: 'bearer', token: TOKEN } },
    ...extra,
  });

  test('discovery → API root → collection by title → every page via next; non-indicators counted', async () => {
    const s = collectingSink();
    const r = await runIngestion(cfg('Indicators', { taxiiPageLimit: 2 }), { sink: s });
    assert.equal(r.report.outcome, 'succeeded', JSON.stringify(r.report.error));
    assert.deepEqual(s.items.map((i) => i.value), ['45.1.0.9', '45.1.1.9', '45.1.2.9', '45.1.3.9', '45.1.4.9']);
    assert.deepEqual(r.report.skipped, { 'stix-not-indicator': 1 });
    assert.equal(r.cursor, '2026-11-25T00:00:00.000Z');
    assert.ok(seen.includes(`/api1/collections/${COLLECTION}/objects/?limit=2&next=2`));
  });

  test('added_after returns only newer objects', async () => {
    const s = collectingSink();
    await runIngestion(cfg(COLLECTION, { addedAfter: '2026-11-22T00:00:00.000Z' }), { sink: s });
    assert.deepEqual(s.items.map((i) => i.value), ['45.1.3.9', '45.1.4.9']);
  });

  test('wrong token: a clear 401 failure, nothing proposed', async () => {
    const s = collectingSink();
    const r = await runIngestion({ ...cfg(COLLECTION), fetch: { ...noSleep, credentials: { kind: 'bearer', token: 'nope' } } }, { sink: s });
    assert.equal(r.report.outcome, 'failed');
    assert.match(r.report.error?.message ?? '', /401/);
    assert.equal(s.outcome, 'aborted');
  });

  test('looping servers are stopped with pagination-loop and the run rolled back', async () => {
    for (const col of ['loop-next', 'loop-date']) {
      const s = collectingSink();
      const r = await runIngestion(cfg(col), { sink: s });
      assert.equal(r.report.error?.code, 'pagination-loop', col);
      assert.equal(s.outcome, 'aborted');
    }
    const s = collectingSink();
    const r = await runIngestion(cfg(COLLECTION, { taxiiPageLimit: 2, taxiiMaxPages: 2 }), { sink: s });
    assert.equal(r.report.error?.code, 'pagination-loop');
  });

  test('credentials stay with the discovery URL\'s origin: an API root the discovery document names on another host never gets them (trust model)', async () => {
    const elsewhere: Array<string | undefined> = [];
    // The "other host": another origin (port) that would serve TAXII to anyone, and records what it is sent.
    const other = await listen((req, res) => {
      elsewhere.push(req.headers.authorization);
      res.writeHead(401, { 'content-type': TAXII_MEDIA_TYPE });
      res.end(JSON.stringify({ title: 'unauthorized' }));
    });
    const discovery = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': TAXII_MEDIA_TYPE });
      res.end(JSON.stringify({ title: 'points elsewhere', default: `${other.base}/api1/`, api_roots: [`${other.base}/api1/`] }));
    });
    try {
      const r = await runIngestion({ ...cfg(COLLECTION), source: { kind: 'taxii', discoveryUrl: `${discovery.base}/taxii2/`, collection: COLLECTION } }, { sink: collectingSink() });
      assert.equal(r.report.outcome, 'failed');
      assert.deepEqual(elsewhere, [undefined], 'the other origin was asked once, without the token');
      assert.match(r.report.error?.message ?? '', /credentials were not sent, they go only to http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      other.server.close();
      discovery.server.close();
    }
  });

  test('unknown collection names the available ones', async () => {
    const r = await runIngestion(cfg('nope'), { sink: collectingSink() });
    assert.equal(r.report.error?.code, 'bad-config');
    assert.match(r.report.error?.message ?? '', /Indicators/);
  });
});

// ---------------------------------------------------------------- CLI

function cli(args: string[]): Promise<CliRun> {
  return runCli(['ingest', '--allow-internal-feeds', LOOPBACK, ...args], { maxBuffer: 1 << 24 });
}

describe('threatmesh ingest --source (preview)', () => {
  test('URL with a preset: NDJSON indicators on stdout, summary on stderr', async () => {
    const r = await cli(['--source', `${feeds.base}/feodo.csv`, '--preset', 'feodo', '--dry-run', '--output', 'ndjson']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; value: string; pattern: string; digest: string; fields: Record<string, unknown> });
    assert.deepEqual(rows.map((x) => x.value), ['51.178.161.32', '162.243.103.246', '185.117.73.147']);
    assert.equal(rows[0]?.pattern, "[ipv4-addr:value = '51.178.161.32']");
    assert.match(rows[0]?.digest ?? '', /^[0-9a-f]{64}$/);
    assert.equal(rows[0]?.fields['malware'], 'QakBot');
    const summary = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{"summary"')) ?? '{}') as { summary: RunReport };
    assert.deepEqual([summary.summary.fetched, summary.summary.new, summary.summary.duplicate, summary.summary.droppedByWarningList], [5, 3, 1, 1]);
  });

  test('generic mapping options on a local file', async () => {
    const r = await cli(['--source', `${fixtures}threatfox-export-recent.json`, '--format', 'json', '--json-path', '*[*]', '--value-field', 'ioc_value', '--type-field', 'ioc_type', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 5);
  });

  test('unreadable input: non-zero exit and a clear message', async () => {
    const missing = await cli(['--source', `${fixtures}nope.csv`, '--preset', 'feodo', '--dry-run']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.csv/);
    const html = await cli(['--source', `${feeds.base}/login.html`, '--format', 'csv', '--column', '1', '--dry-run']);
    assert.equal(html.code, 1);
    assert.match(html.stderr, /HTML page instead of feed data/);
    const usage = await cli(['--source', `${fixtures}nope.csv`]);
    assert.notEqual(usage.code, 0);
  });
});
