import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndicatorRecord } from '../../store/indicators.ts';
import type { ThreatIndicator } from '../../api/types.ts';
import { KubeIndicatorSink, loggedFromEntry, loggedFromRecord, RESTORED_NAMES_LOGGED, revocationFromEntry, specOf, WriteStopped } from './kubesink.ts';
import { Writable } from 'node:stream';
import { MemoryKube } from '../../controllers/fixtures.ts';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import { indicatorDigest, indicatorObjectName } from '../../domain/canonical.ts';
import { createLogger } from '../../log.ts';
import { ApiError } from '../../runtime/client.ts';
import type { KubeObject, ResourceRef } from '../../runtime/types.ts';
import { localProposalOf } from './kubelogged.ts';
import type { VerifiedEntry } from '../../domain/stores.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const window = { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-25T11:00:00.000Z' };
const entry: VerifiedEntry = {
  kind: 'add', index: 7, digest: 'd'.repeat(64), indicator: { type: 'domain', value: 'evil.example' }, proposerId: 'alpha',
  proposalSignature: 'cHJvcG9zYWw=', window,
  votes: [
    { partnerId: 'alpha', digest: 'd'.repeat(64), decision: 'approve', signedAt: '2026-11-25T10:01:00.000Z', signature: 'c2ln' },
    { partnerId: 'bravo', digest: 'd'.repeat(64), decision: 'reject', reason: 'allowlisted', signedAt: '2026-11-25T10:02:00.000Z', signature: 'c2lnMg==' },
  ],
};
const record: IndicatorRecord = {
  digest: entry.digest, type: 'domain', value: 'evil.example', state: 'active', logIndex: 7, proposerId: 'alpha', window, proposalSignature: entry.proposalSignature,
  votes: [
    { partnerId: 'alpha', digest: 'd'.repeat(64), decision: 'approve', signedAt: '2026-11-25T10:01:00.000Z', signature: 'c2ln' },
    { partnerId: 'bravo', digest: 'd'.repeat(64), decision: 'reject', signedAt: '2026-11-25T10:02:00.000Z', signature: 'c2lnMg==', reason: 'allowlisted' },
  ],
};

describe('kube sink conversions', () => {
  test('an entry and its stored record give the same logged indicator (votes without digest)', () => {
    const fromEntry = loggedFromEntry(entry);
    assert.deepEqual(loggedFromRecord(record), fromEntry);
    assert.deepEqual(fromEntry.votes[1], { partnerId: 'bravo', decision: 'reject', reason: 'allowlisted', signedAt: '2026-11-25T10:02:00.000Z', signature: 'c2lnMg==' });
  });

  const unusable: Array<[string, Partial<IndicatorRecord>]> = [
    ['a revoked record stored without the revocation certificate', { state: 'revoked', revokedAtIndex: 9 }],
    ['a record stored without its window', { window: undefined }],
    ['a record stored without the proposal signature', { proposalSignature: undefined }],
  ];
  for (const [name, change] of unusable) {
    test(`${name} cannot be rebuilt`, () => {
      assert.equal(loggedFromRecord({ ...record, ...change }), undefined);
    });
  }

  test('a revoked record carries the REVOKE entry\'s certificate as the entry gives it', () => {
    const revokeWindow = { opensAt: '2026-11-25T12:00:00.000Z', closesAt: '2026-11-25T13:00:00.000Z' };
    const revoke: VerifiedEntry = { ...entry, kind: 'revoke', index: 9, proposerId: 'bravo', proposalSignature: 'cmV2b2tl', window: revokeWindow, votes: entry.votes.slice(0, 1) };
    const revoked: IndicatorRecord = {
      ...record, state: 'revoked', revokedAtIndex: 9,
      revocation: { logIndex: 9, proposerId: 'bravo', proposalSignature: 'cmV2b2tl', window: revokeWindow, votes: record.votes.slice(0, 1) },
    };
    assert.deepEqual(loggedFromRecord(revoked), { ...loggedFromEntry(entry), revocation: revocationFromEntry(revoke) });
    assert.deepEqual(revocationFromEntry(revoke), { logIndex: 9, proposerId: 'bravo', signature: 'cmV2b2tl', window: revokeWindow, votes: [{ partnerId: 'alpha', decision: 'approve', signedAt: '2026-11-25T10:01:00.000Z', signature: 'c2ln' }] });
  });

  test('the spec carries the pattern, provenance opening the voting window, and the proposal', () => {
    assert.deepEqual(specOf(loggedFromEntry(entry)), {
      type: 'domain', value: 'evil.example', pattern: "[domain-name:value = 'evil.example']",
      provenance: { partner: 'alpha', proposedAt: window.opensAt },
      proposal: { partnerId: 'alpha', signature: 'cHJvcG9zYWw=' },
    });
  });

  test('signed metadata reaches the spec (source as provenance.feed), from the entry and from its stored record alike', () => {
    const meta = { tlp: 'amber', confidence: 80, labels: ['c2'], validFrom: '2026-11-25T00:00:00Z', validUntil: '2026-12-25T00:00:00Z', source: 'feeds/abuse-ch' } as const;
    const fromEntry = loggedFromEntry({ ...entry, meta });
    assert.deepEqual(loggedFromRecord({ ...record, meta }), fromEntry);
    assert.deepEqual(specOf(fromEntry), {
      type: 'domain', value: 'evil.example', pattern: "[domain-name:value = 'evil.example']",
      tlp: 'amber', confidence: 80, labels: ['c2'], validFrom: '2026-11-25T00:00:00Z', validUntil: '2026-12-25T00:00:00Z',
      provenance: { partner: 'alpha', proposedAt: window.opensAt, feed: 'feeds/abuse-ch' },
      proposal: { partnerId: 'alpha', signature: 'cHJvcG9zYWw=' },
    });
  });
});

describe('a local proposal drift repair keeps', () => {
  const logged = loggedFromEntry(entry);
  // What this partner's ingest created (its own time as proposedAt, its feed) after the working set wrote the entry's status.
  const local: ThreatIndicator = {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: 'x', namespace: 'tm' },
    spec: { ...specOf(logged), provenance: { partner: 'alpha', feed: 'tm/feed', proposedAt: '2026-11-25T10:00:05.000Z' } },
    status: { logIndex: 7, votes: [...logged.votes] },
  };
  const rv = { logIndex: 9, proposerId: 'bravo', signature: 'cmV2', window, votes: [] };
  const cases: Array<[string, ThreatIndicator, boolean]> = [
    ['the proposal the entry was admitted from, at its log index', local, true],
    ['another proposal signature', { ...local, spec: { ...local.spec, proposal: { partnerId: 'alpha', signature: 'b3RoZXI=' } } }, false],
    ['another proposer', { ...local, spec: { ...local.spec, proposal: { partnerId: 'charlie', signature: entry.proposalSignature } } }, false],
    ['a batch proof the entry lacks', { ...local, spec: { ...local.spec, proposal: { partnerId: 'alpha', signature: entry.proposalSignature, batch: 'AA==' } } }, false],
    ['another log index (another admission, or a hand edit)', { ...local, status: { ...local.status, logIndex: 3 } }, false],
    ['a revocation the log does not have', { ...local, status: { ...local.status, revocation: rv } }, false],
    ['another value under the name', { ...local, spec: { ...local.spec, value: 'other.example' } }, false],
  ];
  for (const [name, obj, want] of cases) {
    test(`${want ? 'keeps' : 'does not keep'} ${name}`, () => {
      assert.equal(localProposalOf(obj, logged), want);
    });
  }
});

describe('drift repair with one object the API server refuses', () => {
  /** An in-memory API server that refuses to create the named objects, as a webhook whose connection was reset does. */
  class Refusing extends MemoryKube {
    readonly refused = new Set<string>();
    override create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
      if (this.refused.has(obj.metadata.name)) return Promise.reject(new ApiError(500, 'InternalError', 'failed calling webhook "threatindicators.threatmesh.io": read: connection reset by peer'));
      return super.create(ref, obj);
    }
  }
  const records: IndicatorRecord[] = Array.from({ length: 20 }, (_, i) => ({ ...record, value: `evil-${i}.example`, digest: indicatorDigest({ type: 'domain', value: `evil-${i}.example` }), logIndex: i }));
  const nameOf = (r: IndicatorRecord): string => indicatorObjectName({ type: 'domain', value: r.value });

  test('writes every other record, then throws the refusal (the caller retries soon)', async () => {
    const kube = new Refusing();
    kube.refused.add(nameOf(records[0]!));
    const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log: quiet, concurrency: 2 });
    await assert.rejects(sink.repair(records, []), /connection reset by peer/);
    const written = new Set((await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: 'tm' })).items.map((o) => o.metadata.name));
    assert.deepEqual(records.filter((r) => !written.has(nameOf(r))).map((r) => r.value), ['evil-0.example'], 'only the refused record is left');
  });

  test('once the API server takes it, the next repair restores it alone', async () => {
    const kube = new Refusing();
    kube.refused.add(nameOf(records[0]!));
    const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log: quiet, concurrency: 2 });
    await assert.rejects(sink.repair(records, []));
    kube.refused.clear();
    const listed = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: 'tm' })).items;
    const report = await sink.repair(records, listed);
    assert.deepEqual([report.restored, report.unchanged], [1, 19]);
  });
});

describe('the drift repair log line names what it restored', () => {
  const many = (n: number): IndicatorRecord[] => Array.from({ length: n }, (_, i) => ({ ...record, value: `lost-${String(i).padStart(2, '0')}.example`, digest: indicatorDigest({ type: 'domain', value: `lost-${i}.example` }), logIndex: i }));
  const cases: Array<[string, number, number]> = [['2 missing objects: both named', 2, 2], [`30 missing objects: the count whole, ${RESTORED_NAMES_LOGGED} named`, 30, RESTORED_NAMES_LOGGED], ['nothing missing: no names', 0, 0]];
  for (const [name, missing, named] of cases) {
    test(name, async () => {
      const lines: string[] = [];
      const log = createLogger(new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }), 'info');
      const kube = new MemoryKube();
      const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log, concurrency: 4 });
      const records = many(missing);
      await sink.repair(records, []);
      const line = JSON.parse(lines.find((l) => l.includes('"msg":"drift repair"'))!) as { restored: number; restoredNames?: string[] };
      assert.equal(line.restored, missing);
      const names = line.restoredNames ?? [];
      assert.equal(names.length, named);
      assert.deepEqual(names, [...names].sort(), 'sorted');
      const all = new Set(records.map((r) => indicatorObjectName({ type: 'domain', value: r.value })));
      assert.ok(names.every((n) => all.has(n)), 'each name is a restored object');
    });
  }
});

describe('a drift repair stops with the exchange', () => {
  /** An in-memory API server whose creates wait for the test, so a stop can land while writes are in flight. */
  class Gated extends MemoryKube {
    creates = 0;
    readonly #waiting: Array<() => void> = [];
    override async create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
      this.creates++;
      await new Promise<void>((r) => this.#waiting.push(r));
      return super.create(ref, obj);
    }
    release(): void {
      for (const r of this.#waiting.splice(0)) r();
    }
    get inFlight(): number {
      return this.#waiting.length;
    }
  }
  const records: IndicatorRecord[] = Array.from({ length: 20 }, (_, i) => ({ ...record, value: `stop-${i}.example`, digest: indicatorDigest({ type: 'domain', value: `stop-${i}.example` }), logIndex: i }));

  test('the writes in flight finish, no record starts after the stop, and it rejects with WriteStopped', async () => {
    const kube = new Gated();
    const lines: string[] = [];
    const log = createLogger(new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }), 'info');
    const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log, concurrency: 2 });
    const stop = new AbortController();
    const repair = sink.repair(records, [], stop.signal);
    while (kube.inFlight < 2) await new Promise((r) => setImmediate(r));
    kube.release();
    while (kube.inFlight < 2) await new Promise((r) => setImmediate(r));
    stop.abort();
    // Keep releasing until the repair settles, so a repair that ignores the stop finishes (and fails the counts) instead of hanging.
    let settled = false;
    const outcome = repair.then(() => undefined, (err: unknown) => err).finally(() => { settled = true; });
    while (!settled) {
      kube.release();
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(await outcome instanceof WriteStopped, 'rejects with WriteStopped');
    assert.equal(kube.creates, 4, 'two rounds of two workers; none after the stop');
    assert.equal((await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: 'tm' })).items.length, 4, 'each write started was finished');
    const line = JSON.parse(lines.find((l) => l.includes('"msg":"drift repair stopped with the exchange"'))!) as { restored: number };
    assert.equal(line.restored, 4);
  });
});

describe('a local proposal the working set writes an entry onto', () => {
  const logged = loggedFromEntry(entry);
  const name = indicatorObjectName(entry.indicator);
  // This partner's ingest: its own time as proposedAt, its feed; the proposal is `proposal`.
  const local = (proposal: { partnerId: string; signature: string }): ThreatIndicator => ({
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: 'tm' },
    spec: { ...specOf(logged), provenance: { partner: proposal.partnerId, feed: 'tm/feed', proposedAt: '2026-11-25T09:59:55.000Z' }, proposal },
  });
  const cases: Array<[string, ThreatIndicator, string]> = [
    ['of the admitted proposal: kept (its feed stays)', local({ partnerId: 'alpha', signature: entry.proposalSignature }), 'alpha tm/feed'],
    ['of another partner\'s round (both ingested it): recreated from the log', local({ partnerId: 'charlie', signature: 'b3RoZXI=' }), 'alpha undefined'],
  ];
  for (const [what, obj, want] of cases) {
    test(what, async () => {
      const kube = new MemoryKube();
      kube.seed(THREAT_INDICATORS, obj);
      const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log: quiet });
      await sink.apply(entry);
      const got = kube.peek<ThreatIndicator>(THREAT_INDICATORS, name, 'tm');
      assert.equal(`${got?.spec.proposal?.partnerId} ${got?.spec.provenance?.feed}`, want);
      assert.equal(got?.status?.logIndex, entry.index);
      // Whatever the working set wrote, drift repair finds it as the log says.
      const report = await sink.repair([record], [got]);
      assert.deepEqual([report.restored, report.corrected, report.unchanged], [0, 0, 1]);
    });
  }
});

describe('the drift repair log line names what it corrected', () => {
  const name = indicatorObjectName(entry.indicator);
  const cases: Array<[string, (o: ThreatIndicator) => ThreatIndicator, number]> = [
    ['an owned status field edited: patched', (o) => ({ ...o, status: { ...o.status, logIndex: 3 } }), 0],
    ['a spec of another round: recreated', (o) => ({ ...o, spec: { ...o.spec, proposal: { partnerId: 'charlie', signature: 'b3RoZXI=' } } }), 1],
  ];
  for (const [what, edit, recreated] of cases) {
    test(what, async () => {
      const lines: string[] = [];
      const log = createLogger(new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }), 'info');
      const kube = new MemoryKube();
      const sink = new KubeIndicatorSink({ client: kube, namespace: 'tm', voters: () => [], now: () => new Date('2026-11-25T10:30:00Z'), log });
      await sink.apply(entry);
      const edited = kube.seed(THREAT_INDICATORS, edit(kube.peek<ThreatIndicator>(THREAT_INDICATORS, name, 'tm')!));
      await sink.repair([record], [edited]);
      const line = JSON.parse(lines.find((l) => l.includes('"msg":"drift repair"'))!) as { corrected: number; recreated?: number; correctedNames?: string[] };
      assert.deepEqual([line.corrected, line.recreated, line.correctedNames], [1, recreated, [name]]);
    });
  }
});
