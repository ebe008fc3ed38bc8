import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rec, revoked } from './fixtures.ts';
import { MemoryIndicatorReader } from './memory.ts';
import type { IndicatorReader, ServedChange, ServedRecord, VersionQuery } from './record.ts';
import { ServingIndex, type ServedSource } from './servingindex.ts';
import { stixIdOfDigest } from './stixview.ts';
import { tlpsUpTo } from './tlp.ts';

/** The replica as the serving index sees it: records by digest and the cursor. */
class Source implements ServedSource {
  readonly records = new Map<string, ServedRecord>();
  mark: number;
  reads = 0;
  /** When set, reads wait for it (a slow database). */
  gate: Promise<void> | undefined;

  constructor(records: readonly ServedRecord[], mark: number) {
    for (const r of records) this.records.set(r.digest, r);
    this.mark = mark;
  }

  watermark(): Promise<number> {
    return Promise.resolve(this.mark);
  }

  async *changedSince(position: number): AsyncIterable<ServedRecord> {
    this.reads += 1;
    await this.gate;
    // Newest first: the index must not depend on the database's order.
    for (const r of [...this.records.values()].reverse()) if (position < 0 || r.logIndex >= position || (r.revokedAtIndex ?? -1) >= position) yield r;
  }
}

const TLPS = ['green', undefined, 'amber', 'red', 'clear', 'white', 'amber+strict'] as const;

function record(i: number): ServedRecord {
  const tlp = TLPS[i % TLPS.length];
  const r = rec(i, `r${i}.index-test.net`, { addedAt: new Date(Date.UTC(2026, 10, 25) + Math.floor(i / 3) * 1000), meta: { ...(tlp === undefined ? {} : { tlp: tlp as 'green' }), source: `feed-${i % 2}`, confidence: i } });
  return i % 5 === 3 ? revoked(r, 100 + i) : r;
}

function shape(p: Awaited<ReturnType<IndicatorReader['versions']>>): string {
  return `${p.rows.map((r) => `${r.index}:${r.kind}:${r.record.value}:${r.record.state}`).join(' ')} more=${p.more}`;
}

const QUERIES: Array<[string, VersionQuery]> = [
  ['green, last', { tlps: tlpsUpTo('green'), after: -1, view: 'last', limit: 100 }],
  ['green, first, page 2', { tlps: tlpsUpTo('green'), after: 10, view: 'first', limit: 5 }],
  ['red, all', { tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 100 }],
  ['red, all, small pages', { tlps: tlpsUpTo('red'), after: 12, view: 'all', limit: 3 }],
  ['amber only, one feed', { tlps: ['amber'], source: 'feed-0', after: -1, view: 'last', limit: 100 }],
  ['clear only (unmarked included)', { tlps: ['clear'], after: -1, view: 'all', limit: 100 }],
  ['added_after', { tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 100, addedAfter: new Date(Date.UTC(2026, 10, 25) + 4_500) }],
  ['cursor past the end', { tlps: tlpsUpTo('red'), after: 500, view: 'all', limit: 10 }],
];

/** Asserts the index answers every query, at `marks`, as the memory reader over the same records. */
async function sameAnswers(index: ServingIndex, records: readonly ServedRecord[], marks: readonly number[], what: string): Promise<void> {
  const memory = new MemoryIndicatorReader([...records]);
  for (const mark of marks) {
    for (const [name, q] of QUERIES) assert.equal(shape(await index.versions(q, mark)), shape(await memory.versions(q, mark)), `${what}: ${name} at watermark ${mark}`);
  }
  for (const r of records) {
    for (const tlps of [tlpsUpTo('green'), tlpsUpTo('red')]) assert.equal((await index.byStixId(stixIdOfDigest(r.digest), tlps))?.logIndex, (await memory.byStixId(stixIdOfDigest(r.digest), tlps))?.logIndex, `${what}: ${r.value} by id`);
  }
  for (const tlps of [['amber+strict' as const], tlpsUpTo('green'), ['red' as const]]) assert.deepEqual(await index.sources(tlps), await memory.sources(tlps), `${what}: sources`);
}

test('the serving index answers every query as the reference reader, after the build and after each change', async () => {
  const source = new Source(Array.from({ length: 30 }, (_, i) => record(i)), 200);
  const index = await ServingIndex.build(source);
  assert.equal(index.size, 30);
  await sameAnswers(index, [...source.records.values()], [200, 25, 110], 'built');
  assert.ok(shape(await index.versions(QUERIES[0]![1], 200)).split(' ').length > 5, 'the table is not trivially empty');

  const changes: Array<[string, (s: Source) => void]> = [
    ['new admissions', (s) => { for (const i of [200, 201, 202]) s.records.set(record(i).digest, { ...record(i), logIndex: i }); s.mark = 203; }],
    ['a revocation of an old record', (s) => { const r = record(0); s.records.set(r.digest, revoked(r, 203)); s.mark = 204; }],
    ['a re-admission of a revoked record', (s) => { const r = record(3); s.records.set(r.digest, { ...r, state: 'active', logIndex: 204, revokedAtIndex: undefined, revokedAt: undefined, revocationWindow: undefined }); s.mark = 205; }],
    // Entries below the cursor are all applied; those above it may be applied in any order.
    ['entries above the cursor applied out of order (hidden until it passes them)', (s) => { for (const i of [205, 207]) s.records.set(record(i).digest, { ...record(i), logIndex: i }); s.mark = 206; }],
    ['the cursor passes them and the gap is filled', (s) => { s.records.set(record(206).digest, { ...record(206), logIndex: 206 }); s.mark = 208; }],
  ];
  for (const [what, change] of changes) {
    change(source);
    assert.equal(await index.watermark(), source.mark, what);
    await sameAnswers(index, [...source.records.values()], [source.mark], what);
  }
});

test('an AMBER record turned GREEN or back never leaves a stale version to a GREEN consumer', async () => {
  const amber = rec(1, 'was-amber.index-test.net', { meta: { tlp: 'amber', source: 'threatmesh/secret' } });
  const source = new Source([rec(0, 'green.index-test.net'), amber], 2);
  const index = await ServingIndex.build(source);
  const green = { tlps: tlpsUpTo('green'), after: -1, view: 'all', limit: 100 } as const;
  assert.deepEqual((await index.versions(green, 2)).rows.map((r) => r.record.value), ['green.index-test.net']);
  assert.deepEqual(await index.sources(tlpsUpTo('green')), ['threatmesh/feed-a']);
  source.records.set(amber.digest, revoked(amber, 2));
  source.mark = 3;
  await index.watermark();
  assert.deepEqual((await index.versions(green, 3)).rows.map((r) => r.record.value), ['green.index-test.net'], 'its revocation is AMBER too');
  assert.equal(await index.byStixId(stixIdOfDigest(amber.digest), tlpsUpTo('green')), undefined);
});

test('an unchanged watermark costs no read; concurrent requests share one refresh; a slow refresh does not hold requests', async () => {
  const source = new Source([rec(0, 'a.index-test.net')], 1);
  const index = await ServingIndex.build(source, { refreshWaitMs: 20 });
  const reads = source.reads;
  await Promise.all([index.watermark(), index.watermark()]);
  assert.equal(source.reads, reads, 'nothing changed, nothing read');
  source.records.set(rec(1, 'b.index-test.net').digest, rec(1, 'b.index-test.net'));
  source.mark = 2;
  await Promise.all([index.watermark(), index.watermark(), index.watermark()]);
  assert.equal(source.reads, reads + 1, 'one refresh for three requests');
  let release: () => void = () => undefined;
  source.gate = new Promise<void>((resolve) => { release = resolve; });
  source.records.set(rec(2, 'c.index-test.net').digest, rec(2, 'c.index-test.net'));
  source.mark = 3;
  assert.equal(await index.watermark(), 2, 'answered from the index as it is while the refresh runs');
  release();
  await index.refresh();
  assert.equal(await index.watermark(), 3);
  assert.equal((await index.versions({ tlps: tlpsUpTo('green'), after: 1, view: 'last', limit: 10 }, 3)).rows[0]?.record.value, 'c.index-test.net');
});

test('the index follows the served-changes journal without reading the records, and reads them when the journal has a gap', async () => {
  const source = new Source([rec(0, 'a.index-test.net'), rec(1, 'b.index-test.net')], 2);
  const journal: ServedChange[] = [];
  let coveredFrom = 2;
  const withJournal: ServedSource = {
    watermark: () => source.watermark(),
    changedSince: (p) => source.changedSince(p),
    changes: (from, to) => Promise.resolve(from >= coveredFrom ? journal.filter((c) => c.index >= from && c.index < to) : undefined),
  };
  const index = await ServingIndex.build(withJournal);
  const reads = source.reads;
  const c = rec(2, 'c.index-test.net');
  const a = revoked(rec(0, 'a.index-test.net'), 3);
  journal.push({ kind: 'add', index: 2, record: c }, { kind: 'revoke', index: 3, digest: a.digest, revokedAt: a.revokedAt!, window: a.revocationWindow! });
  source.records.set(c.digest, c);
  source.records.set(a.digest, a);
  source.mark = 4;
  assert.equal(await index.watermark(), 4);
  assert.equal(source.reads, reads, 'the journal covered the change: no read of the records');
  await sameAnswers(index, [...source.records.values()], [4], 'after the journal');
  // The journal was pruned past the index's watermark: the records are read instead.
  coveredFrom = 10;
  const d = rec(4, 'd.index-test.net');
  source.records.set(d.digest, d);
  source.mark = 5;
  assert.equal(await index.watermark(), 5);
  assert.equal(source.reads, reads + 1);
  await sameAnswers(index, [...source.records.values()], [5], 'after the fallback');
});
