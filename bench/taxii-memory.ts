/**
 * The serving index's memory without a database: `node --expose-gc bench/taxii-memory.ts [N]`
 * builds serve/servingindex.ts from N (default 1,000,000) fresh records shaped like
 * `npm run bench -- taxii` seeds them (strings freshly allocated, as the driver returns them)
 * and prints one JSON line: heap retained per indicator, in MiB, and the build time without
 * the database. It isolates what the index costs from what FerretDB's streaming read costs.
 */
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { ServingIndex } from '../operator/src/serve/servingindex.ts';
import type { ServedRecord } from '../operator/src/serve/record.ts';
const n = Number(process.argv[2] ?? 1_000_000);
const TLPS = ['green', 'green', 'green', 'green', 'green', 'green', undefined, undefined, undefined, undefined, 'amber', 'amber', 'amber', 'red', 'red', 'green', 'green', 'green', 'green', 'amber'];
const heap = () => { (globalThis as { gc?: () => void }).gc?.(); return process.memoryUsage().heapUsed; };
function rec(i: number): ServedRecord {
  const value = `host-${i.toString(36)}.bench-threatmesh.net`;
  const digest = indicatorDigest({ type: 'domain', value });
  const tlp = TLPS[i % TLPS.length];
  const revoked = i % 50 === 7;
  const r: unknown = JSON.parse(JSON.stringify({ digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'partner-b', window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' },
    meta: { ...(tlp ? { tlp } : {}), confidence: 50 + (i % 50), source: `threatmesh/feed-${i % 3}`, labels: ['c2'] }, ...(revoked ? { revokedAtIndex: n + i } : {}) }));
  return { ...(r as ServedRecord), addedAt: new Date(Date.UTC(2026, 10, 25) + Math.floor(i / 1000) * 1000), ...(revoked ? { revokedAt: new Date(Date.UTC(2026, 10, 26) + i) } : {}) };
}
const b = heap();
const t = performance.now();
async function* records(): AsyncIterable<ServedRecord> {
  for (let i = 0; i < n; i++) {
    // The driver hands documents over in batches, between event-loop turns.
    if (i % 5000 === 0) await Promise.resolve();
    yield rec(i);
  }
}
const idx = await ServingIndex.build({ watermark: () => Promise.resolve(2 * n), changedSince: records });
const ms = performance.now() - t;
console.log(JSON.stringify({ records: idx.size, heapBytesPerIndicator: Math.round((heap() - b) / n), heapMiB: Math.round((heap() - b) / 2 ** 20), buildSecondsWithoutDatabase: Math.round(ms) / 1000 }));
