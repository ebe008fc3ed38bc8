/**
 * `npm run bench -- repair`: the first drift repair's read of a partner with N replicated
 * records (docs/adr/2026-12-06-million-indicators.md, Decision 3), before and after
 * `replica_recent`, on one fresh FerretDB (dev/controlplane).
 *
 * N entries (BENCH_REPAIR_RECORDS, default 100,000; one in 1,000 a REVOKE of an older record) are
 * applied through the replica sink in batches of 1,000, then a fresh sink (a restart) reads the
 * records at or above the working set's floor (N − BENCH_REPAIR_BUDGET, default 10,000) twice:
 * with the query on `indicators` it replaced (`recentByScan`, the "before") and with
 * `recent` (the "after"); the two answers must be equal. The extra write of `replica_recent` is
 * timed on its own (the same batches' states written to an empty database). Backend:
 * THREATMESH_FERRETDB_BACKEND (default postgresql, as the scale bench).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../operator/src/domain/stores.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { MongoIndicatorSink, type IndicatorRecord } from '../operator/src/store/indicators.ts';
import { RecentRecords } from '../operator/src/store/recentrecords.ts';
import { emit, emitSummary, progress, round, helpAsked, type BenchUsage } from './lib.ts';

/** What `npm run bench -- repair --help` prints. */
const USAGE: BenchUsage = {
  name: 'repair',
  measures: 'The first drift repair\'s read of a partner with N replicated records, before (the scan of `indicators`) and after `replica_recent`, on one fresh FerretDB; the two answers must be equal. Also the extra write of `replica_recent`, timed on its own.',
  knobs: [
    ['BENCH_REPAIR_RECORDS', 'N, replicated records (default 100000; one in 1,000 a REVOKE)'],
    ['BENCH_REPAIR_BUDGET', 'records above the working set\'s floor that are read (default 10000)'],
    ['THREATMESH_FERRETDB_BACKEND', 'postgresql (default) or sqlite'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const N = Number(process.env['BENCH_REPAIR_RECORDS'] ?? 100_000);
const BUDGET = Number(process.env['BENCH_REPAIR_BUDGET'] ?? 10_000);
const BACKEND = (process.env['THREATMESH_FERRETDB_BACKEND'] ?? 'postgresql') as FerretBackend;
const BATCH = 1000;
const WINDOW = { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' };
const SIG = 'A'.repeat(86);

function indicatorOf(n: number): { type: 'domain'; value: string } {
  return { type: 'domain', value: `r-${n.toString(36)}.repair-bench.example` };
}

/** Entry `i`: every 1,000th revokes the indicator admitted 5,000 positions earlier (some of them inside the working set). */
function entry(i: number): VerifiedEntry {
  const revokes = i % 1000 === 999 && i >= 5000;
  const ind = indicatorOf(revokes ? i - 5000 : i);
  const votes = ['alpha', 'bravo', 'charlie'].map((partnerId, k) => ({ partnerId, digest: indicatorDigest(ind), decision: 'approve' as const, signedAt: `2026-12-06T10:00:0${k}.000Z`, signature: SIG }));
  return {
    kind: revokes ? 'revoke' : 'add', indicator: ind, digest: indicatorDigest(ind), index: i, proposerId: 'alpha', proposalSignature: SIG, window: WINDOW, votes,
    ...(revokes ? {} : { meta: { tlp: 'green', confidence: 80 } }),
  };
}

function keyed(rs: readonly IndicatorRecord[]): string[] {
  return rs.map((r) => `${r.digest}:${r.state}:${r.logIndex}:${r.revokedAtIndex ?? ''}`).sort();
}

async function timedMs<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

async function main(): Promise<void> {
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
  const dir = await mkdtemp(join(tmpdir(), 'tm-repair-bench-'));
  const server = await startDatabase({ name: 'repair-bench', dir, ferretdb: binaries.ferretdb, backend: BACKEND });
  const client = await MongoClient.connect(server.uri);
  try {
    const db = client.db('repair_bench');
    const keep = Math.ceil(BUDGET * 1.25);
    const sink = await MongoIndicatorSink.open(db, { recentPositions: keep });
    const [, applyMs] = await timedMs(async () => {
      for (let i = 0; i < N; i += BATCH) {
        await sink.applyMany(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => entry(i + k)));
        if ((i + BATCH) % 20_000 === 0) progress(`repair: applied ${i + BATCH} of ${N}`);
      }
    });
    // The extra write on its own: the states of the last 20 batches written to an empty database.
    const alone = new RecentRecords(client.db('repair_bench_alone'), keep);
    const sample = Math.min(20, Math.ceil(N / BATCH));
    const [, recentWriteMs] = await timedMs(async () => {
      for (let b = 0; b < sample; b += 1) {
        const first = N - (sample - b) * BATCH;
        const states: IndicatorRecord[] = [];
        for (let i = Math.max(0, first); i < first + BATCH; i += 1) states.push(stateOf(entry(i)));
        await alone.write(Math.max(0, first), first + BATCH - 1, states);
      }
    });
    const floor = Math.max(0, N - BUDGET);
    const restarted = await MongoIndicatorSink.open(db, { recentPositions: keep });
    progress(`repair: reading the working set's records at floor ${floor} with the $or query on indicators (before)`);
    const [before, beforeMs] = await timedMs(() => restarted.recentByScan(floor));
    progress('repair: reading them with recent() (after)');
    const [afterRecords, afterMs] = await timedMs(() => restarted.recent(floor));
    const same = JSON.stringify(keyed(before)) === JSON.stringify(keyed(afterRecords));
    if (!same) throw new Error(`recent() returned ${afterRecords.length} records, the query on indicators ${before.length}: they differ`);
    emit([
      { metric: `apply ${N} entries (1,000 per batch, replica_recent included)`, value: round((N * 1000) / applyMs), unit: 'entries/s' },
      { metric: 'replica_recent write per 1,000-entry batch, alone', value: round(recentWriteMs / sample), unit: 'ms' },
      { metric: `first repair read at floor ${floor}: $or on indicators (before)`, value: round(beforeMs), unit: 'ms' },
      { metric: `first repair read at floor ${floor}: recent() (after)`, value: round(afterMs), unit: 'ms' },
      { metric: 'records read (equal both ways)', value: afterRecords.length, unit: 'records' },
    ]);
    emitSummary({ records: N, budget: BUDGET, backend: BACKEND, beforeMs: round(beforeMs), afterMs: round(afterMs), speedup: round(beforeMs / afterMs, 3), recordsRead: afterRecords.length });
  } finally {
    await client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The state an ADD leaves (what the sink records in replica_recent); a REVOKE's is close enough in size for timing. */
function stateOf(e: VerifiedEntry): IndicatorRecord {
  return {
    digest: e.digest, type: e.indicator.type, value: e.indicator.value, state: 'active', logIndex: e.index, proposerId: e.proposerId,
    votes: e.votes.map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature })),
    window: WINDOW, proposalSignature: e.proposalSignature, addedAt: new Date(), name: `domain-${e.digest.slice(0, 40)}`,
  };
}

if (!helpAsked(USAGE)) await main();
