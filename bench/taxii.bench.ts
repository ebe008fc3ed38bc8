/**
 * `npm run bench -- taxii`: TAXII page latency over a partner's replicated indicators in a real
 * FerretDB (MongoDB wire; THREATMESH_FERRETDB_BACKEND, default postgresql here: it seeds a
 * million records in minutes where SQLite slows as the table grows). Seeds BENCH_TAXII_COUNT
 * records (default 1,000,000) with bulk inserts in the contract's shape (60% GREEN, 20%
 * unmarked, 15% AMBER, 5% RED; 2% revoked; three source feeds), creates the MongoDB indexes,
 * builds the serving index (serve/servingindex.ts: time, heap per indicator), then times:
 *  - the page (limit 100) from the serving index at random log positions for a GREEN consumer,
 *    and the lookup by STIX id;
 *  - BENCH_TAXII_DB_SAMPLES (default 0: at 10^6 one takes about ten minutes) pages straight from the database query the index
 *    replaced (store/servedindicators.ts `versions`), for comparison;
 *  - whole HTTPS requests through `threatmesh serve`'s stack (auth, page, STIX rendering,
 *    audit write): the first pages of /api/collections/all/objects/ followed by `next`;
 *  - the refresh after 1,000 admissions and 10 revocations past the watermark, written as the
 *    replica sink writes them, journal included (what bounds how soon a revocation reaches TAXII).
 * BENCH_TAXII_SAMPLES (default 100) random positions; BENCH_TAXII_PAGES (default 40) HTTPS pages.
 * An operation slower than BENCH_TAXII_TIMEOUT_MS (default 600000) ends that sampling: the
 * results then give the timeout as a lower bound (`… (timed out)`), so a slow store cannot make
 * the benchmark run for hours. Set MONGODB_URI to measure against your own MongoDB.
 */
import { request, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import type { FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { ServingIndex } from '../operator/src/serve/servingindex.ts';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { createTestCa } from '../e2e/harness/pki.ts';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { createLogger } from '../operator/src/log.ts';
import { loadServeConfig, tokenHash, validateServeConfig } from '../operator/src/serve/config.ts';
import { startServeService } from '../operator/src/serve/service.ts';
import { stixIdOfDigest } from '../operator/src/serve/stixview.ts';
import { tlpsUpTo } from '../operator/src/serve/tlp.ts';
import { REPLICA_CURSORS } from '../operator/src/store/cursor.ts';
import { INDICATORS, type IndicatorRecord } from '../operator/src/store/indicators.ts';
import type { ServedChange } from '../operator/src/store/served.ts';
import { ServedChangesJournal } from '../operator/src/store/servedchanges.ts';
import { MongoServedIndicators } from '../operator/src/store/servedindicators.ts';

/** What `npm run bench -- taxii --help` prints. */
const USAGE: BenchUsage = {
  name: 'taxii',
  measures: 'TAXII page latency over a partner\'s replicated indicators in a real FerretDB: seeding, the serving index (build time, heap per indicator), pages from the index at random log positions and the lookup by STIX id, pages straight from the database for comparison, whole HTTPS requests through `threatmesh serve`\'s stack, and the refresh after 1,000 admissions and 10 revocations.',
  knobs: [
    ['BENCH_TAXII_COUNT', 'records seeded (default 1000000)'],
    ['BENCH_TAXII_SAMPLES', 'random positions sampled (default 100)'],
    ['BENCH_TAXII_DB_SAMPLES', 'pages from the database query (default 0: at 10^6 one takes about ten minutes)'],
    ['BENCH_TAXII_PAGES', 'HTTPS pages (default 40)'],
    ['BENCH_TAXII_TIMEOUT_MS', 'an operation slower than this ends its sampling (default 600000)'],
    ['MONGODB_URI', 'use this MongoDB instead of starting FerretDB'],
    ['THREATMESH_FERRETDB_BACKEND', 'postgresql (default) or sqlite'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

const count = Number(process.env['BENCH_TAXII_COUNT'] ?? 1_000_000);
const samples = Number(process.env['BENCH_TAXII_SAMPLES'] ?? 100);
const dbSamples = Number(process.env['BENCH_TAXII_DB_SAMPLES'] ?? 0);
const pages = Number(process.env['BENCH_TAXII_PAGES'] ?? 40);
const backend = (process.env['THREATMESH_FERRETDB_BACKEND'] ?? 'postgresql') as FerretBackend;
const timeoutMs = Number(process.env['BENCH_TAXII_TIMEOUT_MS'] ?? 600_000);
const BATCH = 10_000;
const TOKEN = 'bench-consumer-token-0123456789';
const TLPS = ['green', 'green', 'green', 'green', 'green', 'green', undefined, undefined, undefined, undefined, 'amber', 'amber', 'amber', 'red', 'red', 'green', 'green', 'green', 'green', 'amber'] as const;

function doc(i: number, revokeAt = count + i): IndicatorRecord {
  const value = `host-${i.toString(36)}.bench-threatmesh.net`;
  const digest = indicatorDigest({ type: 'domain', value });
  const tlp = TLPS[i % TLPS.length];
  const revoked = i % 50 === 7 && i < count;
  return {
    _id: digest, digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'partner-b',
    votes: [{ partnerId: 'partner-a', decision: 'approve', signedAt: '2026-11-25T10:00:01.000Z', signature: 'A'.repeat(86) }, { partnerId: 'partner-c', decision: 'approve', signedAt: '2026-11-25T10:00:02.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86),
    meta: { ...(tlp === undefined ? {} : { tlp }), confidence: 50 + (i % 50), source: `threatmesh/feed-${i % 3}`, labels: ['c2'] },
    stixId: stixIdOfDigest(digest), addedAt: new Date(Date.UTC(2026, 10, 25) + Math.floor(i / 1000) * 1000),
    ...(revoked ? { revokedAtIndex: revokeAt, revokedAt: new Date(Date.UTC(2026, 10, 26) + i) } : {}),
  };
}

async function seed(db: Db): Promise<number> {
  const col = db.collection<IndicatorRecord>(INDICATORS);
  const started = performance.now();
  for (let i = 0; i < count; i += BATCH) {
    await col.insertMany(Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => doc(i + k)), { ordered: false });
    if ((i / BATCH) % 10 === 0) progress(`seeded ${i + BATCH} of ${count} (${round((performance.now() - started) / 1000, 3)} s)`);
  }
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).insertOne({ _id: 'sequencer', nextIndex: 2 * count });
  return performance.now() - started;
}

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

class TimedOut extends Error {}

/** Milliseconds `fn` took; throws TimedOut past the timeout (the operation is abandoned). */
async function timeIt(fn: () => Promise<unknown>, limit = 2 ** 31 - 1): Promise<number> {
  const t = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new TimedOut()), limit); });
  try {
    await Promise.race([fn(), expired]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - t;
}

function timedOut(metric: string): BenchResult {
  progress(`${metric}: more than ${timeoutMs} ms, sampling stopped`);
  return { metric: `${metric} (timed out)`, value: timeoutMs, unit: 'ms' };
}

function get(opts: RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

const results: BenchResult[] = [];
const ms = (metric: string, value: number): BenchResult => ({ metric, value: round(value, 3), unit: 'ms' });

/** p50 and p95 of `values` under `metric`. */
function quantiles(metric: string, values: readonly number[]): BenchResult[] {
  return [ms(`${metric} p50`, percentile(values, 50)), ms(`${metric} p95`, percentile(values, 95))];
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** Builds the serving index from the database, recording its time and heap per indicator. */
async function buildIndex(source: MongoServedIndicators): Promise<ServingIndex> {
  const before = heapUsed();
  const started = performance.now();
  const index = await ServingIndex.build(source, { progress: (n) => progress(`serving index: ${n} of ${count} (${round((performance.now() - started) / 1000, 3)} s)`) });
  const buildMs = performance.now() - started;
  const bytes = heapUsed() - before;
  if (index.size !== count) throw new Error(`the serving index holds ${index.size} indicators, the store ${count}`);
  results.push(
    { metric: 'serving index build (one streaming read)', value: round(buildMs / 1000, 3), unit: 's' },
    { metric: 'serving index build rate', value: round((count * 1000) / buildMs, 3), unit: 'records/s' },
    { metric: 'serving index heap per indicator', value: round(bytes / count, 3), unit: 'bytes' },
    { metric: 'serving index heap', value: round(bytes / 2 ** 20, 3), unit: 'MiB' },
  );
  progress(`serving index built in ${round(buildMs / 1000, 3)} s, ${round(bytes / count, 3)} bytes per indicator`);
  return index;
}

/** Pages and lookups from the serving index at random positions. */
async function indexSamples(index: ServingIndex): Promise<void> {
  const green = tlpsUpTo('green');
  const watermark = await index.watermark();
  const pageMs: number[] = [];
  const idMs: number[] = [];
  for (let s = 0; s < samples; s += 1) {
    const after = s === 0 ? -1 : Math.floor(Math.random() * count);
    let rows = 0;
    pageMs.push(await timeIt(async () => { rows = (await index.versions({ tlps: green, after, view: 'last', limit: 100 }, watermark)).rows.length; }));
    if (rows === 0 && after < count - 1000) throw new Error(`an empty page after ${after}`);
    const probe = doc(Math.floor(Math.random() * count));
    idMs.push(await timeIt(() => index.byStixId(probe.stixId ?? '', green)));
  }
  results.push(...quantiles('serving index page (limit 100)', pageMs), ...quantiles('object by STIX id (serving index)', idMs));
}

/** The database query the serving index replaced, for comparison (FerretDB scans for it). */
async function databaseSamples(reader: MongoServedIndicators): Promise<void> {
  const green = tlpsUpTo('green');
  const watermark = await reader.watermark();
  const pageMs: number[] = [];
  try {
    for (let s = 0; s < dbSamples; s += 1) {
      pageMs.push(await timeIt(() => reader.versions({ tlps: green, after: Math.floor(Math.random() * count), view: 'last', limit: 100 }, watermark), timeoutMs));
      progress(`database page ${s + 1}/${dbSamples}: ${round(pageMs[s] ?? 0, 3)} ms`);
    }
    if (pageMs.length > 0) results.push(ms('database page without the serving index (limit 100) p50', percentile(pageMs, 50)));
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    results.push(timedOut('database page without the serving index (limit 100)'));
  }
}

/** The served fields of a seeded record (what the replica sink's journal carries). */
function servedChangeOf(d: IndicatorRecord): ServedChange {
  return {
    kind: 'add', index: d.logIndex,
    record: { digest: d.digest, type: d.type, value: d.value, state: 'active', logIndex: d.logIndex, proposerId: d.proposerId, addedAt: d.addedAt ?? new Date(), ...(d.meta ? { meta: d.meta } : {}), ...(d.window ? { window: d.window } : {}) },
  };
}

/**
 * 1,000 admissions and 10 revocations past the watermark, written as the replica sink writes
 * them (records, then the served-changes journal, then the cursor), then the time the index
 * takes to serve them: what bounds how soon a revocation reaches TAXII.
 */
async function refreshAfterChanges(db: Db, index: ServingIndex): Promise<void> {
  const col = db.collection<IndicatorRecord>(INDICATORS);
  const base = 2 * count;
  const adds = Array.from({ length: 1000 }, (_, k) => ({ ...doc(count + k), logIndex: base + k, addedAt: new Date() }));
  await col.insertMany(adds, { ordered: false });
  const changes: ServedChange[] = adds.map(servedChangeOf);
  for (let k = 0; k < 10; k += 1) {
    const victim = doc(k * 50 + 1);
    const revokedAt = new Date();
    await col.updateOne({ _id: victim.digest }, { $set: { state: 'revoked', revokedAtIndex: base + 1000 + k, revokedAt } });
    changes.push({ kind: 'revoke', index: base + 1000 + k, digest: victim.digest, revokedAt, window: { opensAt: '2026-11-26T10:00:00.000Z', closesAt: '2026-11-29T10:00:00.000Z' } });
  }
  await new ServedChangesJournal(db).write(base, base + 1009, changes);
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).updateOne({ _id: 'sequencer' }, { $set: { nextIndex: base + 1010 } });
  try {
    const refreshMs = await timeIt(() => index.refresh(), timeoutMs);
    if (index.position !== base + 1010 || index.size !== count + 1000) throw new Error(`after the refresh the index is at ${index.position} with ${index.size} indicators`);
    const revokedNow = await index.byStixId(doc(1).stixId ?? '', tlpsUpTo('red'));
    if (revokedNow?.state !== 'revoked') throw new Error('a revocation did not reach the serving index');
    results.push(ms('serving index refresh after 1,000 admissions and 10 revocations (journal)', refreshMs));
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    results.push(timedOut('serving index refresh after 1,000 admissions and 10 revocations (journal)'));
  }
}

const cp = await startControlPlane({ kube: false, mongodbUri: process.env['MONGODB_URI'], ferretdbBackend: backend, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
const mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 15_000 });
const db = mongo.db(`bench_taxii_${Date.now()}`);
const ca = await createTestCa('bench-taxii');
try {
  progress(`seeding ${count} indicators into ${process.env['MONGODB_URI'] === undefined ? `FerretDB (${backend})` : 'MongoDB'}`);
  const seedMs = await seed(db);
  results.push({ metric: 'objects in the store', value: count, unit: 'records' }, { metric: 'seeding time', value: round(seedMs / 1000, 3), unit: 's' }, { metric: 'seeding rate', value: round((count * 1000) / seedMs, 3), unit: 'records/s' });
  let reader: MongoServedIndicators | undefined;
  const indexMs = await timeIt(async () => { reader = await MongoServedIndicators.open(db); });
  results.push({ metric: 'creating the MongoDB indexes', value: round(indexMs / 1000, 3), unit: 's' });
  if (reader === undefined) throw new Error('no reader');
  const index = await buildIndex(reader);
  await indexSamples(index);
  await httpsPages(db, index);
  await databaseSamples(reader);
  await refreshAfterChanges(db, index);
  emit(results);
} finally {
  await db.dropDatabase().catch(() => undefined);
  await mongo.close();
  await ca.dispose();
  await cp.stop();
}

/** Times `pages` HTTPS objects pages through the whole serve stack. */
async function httpsPages(db: Db, reader: ServingIndex): Promise<void> {
  const server = await ca.issue('bench-taxii', 'server');
  const config = await loadServeConfig(validateServeConfig({ consumers: [{ name: 'bench', maxTlp: 'green', tokens: [{ sha256: tokenHash(TOKEN) }] }] }), () => Promise.reject(new Error('no files')));
  const serve = await startServeService({
    config, db, partnerId: 'partner-a', reader, tls: { certPem: server.certPem, keyPem: server.keyPem }, listen: { host: '127.0.0.1', port: 0 }, metricsBind: { host: '127.0.0.1', port: 0 },
    log: createLogger(process.stderr, 'warn', { component: 'bench-taxii' }),
  });
  try {
    const httpMs: number[] = [];
    let next: string | undefined;
    for (let p = 0; p < pages; p += 1) {
      const path = `/api/collections/all/objects/?limit=100${next === undefined ? '' : `&next=${next}`}`;
      let body = '';
      httpMs.push(await timeIt(async () => { body = await get({ host: '127.0.0.1', port: serve.port, path, ca: ca.caPem, headers: { accept: 'application/taxii+json;version=2.1', authorization: `Bearer ${TOKEN}` } }); }, timeoutMs));
      const parsed = JSON.parse(body) as { next?: string; objects?: unknown[] };
      if ((parsed.objects?.length ?? 0) !== 100) throw new Error(`HTTPS page ${p + 1} has ${parsed.objects?.length ?? 0} objects`);
      next = parsed.next;
      if (p % 10 === 0) progress(`HTTPS page ${p + 1}/${pages}: ${round(httpMs[p] ?? 0, 3)} ms`);
    }
    results.push(...quantiles('HTTPS objects page (limit 100)', httpMs));
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    results.push(timedOut('HTTPS objects page (limit 100)'));
  } finally {
    await serve.stop();
  }
}
