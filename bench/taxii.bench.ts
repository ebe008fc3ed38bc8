/**
 * `npm run bench -- taxii`: TAXII page latency over a partner's replicated indicators in a real
 * FerretDB (MongoDB wire). Seeds BENCH_TAXII_COUNT records (default 1,000,000) with bulk
 * inserts in the contract's shape (60% GREEN, 20% unmarked, 15% AMBER, 5% RED; 2% revoked;
 * three source feeds), creates the serving indexes, then times:
 *  - the database page query (store/servedindicators.ts `versions`, limit 100) at random log
 *    positions for a GREEN consumer, and the lookup by STIX id;
 *  - whole HTTPS requests through `threatmesh serve`'s stack (auth, query, STIX rendering,
 *    audit write): the first pages of /api/collections/all/objects/ followed by `next`.
 * BENCH_TAXII_SAMPLES (default 20) random positions; BENCH_TAXII_PAGES (default 5) HTTPS pages.
 * An operation slower than BENCH_TAXII_TIMEOUT_MS (default 600000) ends the sampling: the
 * results then give the timeout as a lower bound (`… (timed out)`), so a slow store cannot make
 * the benchmark run for hours. Set MONGODB_URI to measure against your own MongoDB.
 */
import { request, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { emit, progress, round, type BenchResult } from './lib.ts';
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
import { MongoServedIndicators } from '../operator/src/store/servedindicators.ts';

const count = Number(process.env['BENCH_TAXII_COUNT'] ?? 1_000_000);
const samples = Number(process.env['BENCH_TAXII_SAMPLES'] ?? 20);
const pages = Number(process.env['BENCH_TAXII_PAGES'] ?? 5);
const timeoutMs = Number(process.env['BENCH_TAXII_TIMEOUT_MS'] ?? 600_000);
const BATCH = 10_000;
const TOKEN = 'bench-consumer-token-0123456789';
const TLPS = ['green', 'green', 'green', 'green', 'green', 'green', undefined, undefined, undefined, undefined, 'amber', 'amber', 'amber', 'red', 'red', 'green', 'green', 'green', 'green', 'amber'] as const;

function doc(i: number): IndicatorRecord {
  const value = `host-${i.toString(36)}.bench-threatmesh.net`;
  const digest = indicatorDigest({ type: 'domain', value });
  const tlp = TLPS[i % TLPS.length];
  const revoked = i % 50 === 7;
  return {
    _id: digest, digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'partner-b',
    votes: [{ partnerId: 'partner-a', decision: 'approve', signedAt: '2026-11-25T10:00:01.000Z', signature: 'A'.repeat(86) }, { partnerId: 'partner-c', decision: 'approve', signedAt: '2026-11-25T10:00:02.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86),
    meta: { ...(tlp === undefined ? {} : { tlp }), confidence: 50 + (i % 50), source: `threatmesh/feed-${i % 3}`, labels: ['c2'] },
    stixId: stixIdOfDigest(digest), addedAt: new Date(Date.UTC(2026, 10, 25) + Math.floor(i / 1000) * 1000),
    ...(revoked ? { revokedAtIndex: count + i, revokedAt: new Date(Date.UTC(2026, 10, 26) + i) } : {}),
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
const cp = await startControlPlane({ kube: false, mongodbUri: process.env['MONGODB_URI'], cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
const mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 15_000 });
const db = mongo.db(`bench_taxii_${Date.now()}`);
const ca = await createTestCa('bench-taxii');
try {
  progress(`seeding ${count} indicators into ${process.env['MONGODB_URI'] === undefined ? 'FerretDB' : 'MongoDB'}`);
  const seedMs = await seed(db);
  results.push({ metric: 'objects in the store', value: count, unit: 'records' }, { metric: 'seeding time', value: round(seedMs / 1000, 3), unit: 's' }, { metric: 'seeding rate', value: round((count * 1000) / seedMs, 3), unit: 'records/s' });
  const indexMs = await timeIt(() => MongoServedIndicators.open(db));
  results.push({ metric: 'creating the serving indexes', value: round(indexMs / 1000, 3), unit: 's' });
  progress(`serving indexes created in ${round(indexMs / 1000, 3)} s`);
  const reader = await MongoServedIndicators.open(db);
  const green = tlpsUpTo('green');
  const watermark = await reader.watermark();
  const pageMs: number[] = [];
  const idMs: number[] = [];
  try {
    for (let s = 0; s < samples; s += 1) {
      const after = s === 0 ? -1 : Math.floor(Math.random() * count);
      pageMs.push(await timeIt(() => reader.versions({ tlps: green, after, view: 'last', limit: 100 }, watermark), timeoutMs));
      const probe = doc(Math.floor(Math.random() * count));
      idMs.push(await timeIt(() => reader.byStixId(probe.stixId ?? '', green), timeoutMs));
      progress(`sample ${s + 1}/${samples}: page ${round(pageMs[s] ?? 0, 3)} ms, by id ${round(idMs[s] ?? 0, 3)} ms`);
    }
    results.push(
      { metric: 'database page (limit 100) p50', value: round(percentile(pageMs, 50), 3), unit: 'ms' },
      { metric: 'database page (limit 100) p95', value: round(percentile(pageMs, 95), 3), unit: 'ms' },
      { metric: 'object by STIX id p95', value: round(percentile(idMs, 95), 3), unit: 'ms' },
    );
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    results.push(timedOut(pageMs.length === idMs.length ? 'database page (limit 100)' : 'object by STIX id'));
  }
  if (results.some((r) => r.metric.endsWith('(timed out)'))) {
    emit(results);
  } else {
    await httpsPages(db);
    emit(results);
  }
} finally {
  await db.dropDatabase().catch(() => undefined);
  await mongo.close();
  await ca.dispose();
  await cp.stop();
}

/** Times `pages` HTTPS objects pages through the whole serve stack. */
async function httpsPages(db: Db): Promise<void> {
  const server = await ca.issue('bench-taxii', 'server');
  const config = await loadServeConfig(validateServeConfig({ consumers: [{ name: 'bench', maxTlp: 'green', tokens: [{ sha256: tokenHash(TOKEN) }] }] }), () => Promise.reject(new Error('no files')));
  const serve = await startServeService({
    config, db, partnerId: 'partner-a', tls: { certPem: server.certPem, keyPem: server.keyPem }, listen: { host: '127.0.0.1', port: 0 }, metricsBind: { host: '127.0.0.1', port: 0 },
    log: createLogger(process.stderr, 'warn', { component: 'bench-taxii' }),
  });
  try {
    const httpMs: number[] = [];
    let next: string | undefined;
    for (let p = 0; p < pages; p += 1) {
      const path = `/api/collections/all/objects/?limit=100${next === undefined ? '' : `&next=${next}`}`;
      let body = '';
      httpMs.push(await timeIt(async () => { body = await get({ host: '127.0.0.1', port: serve.port, path, ca: ca.caPem, headers: { accept: 'application/taxii+json;version=2.1', authorization: `Bearer ${TOKEN}` } }); }, timeoutMs));
      next = (JSON.parse(body) as { next?: string }).next;
      progress(`HTTPS page ${p + 1}/${pages}: ${round(httpMs[p] ?? 0, 3)} ms`);
    }
    results.push(
      { metric: 'HTTPS objects page (limit 100) p50', value: round(percentile(httpMs, 50), 3), unit: 'ms' },
      { metric: 'HTTPS objects page (limit 100) p95', value: round(percentile(httpMs, 95), 3), unit: 'ms' },
    );
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    results.push(timedOut('HTTPS objects page (limit 100)'));
  } finally {
    await serve.stop();
  }
}
