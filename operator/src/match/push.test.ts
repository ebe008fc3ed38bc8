import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SigningKey } from '../domain/signature.ts';
import { createLogger } from '../log.ts';
import type { PushPosition, SightingDoc } from '../store/sightings.ts';
import { SightingPusher, type PushPeer } from './push.ts';
import { SHARING_LIMITS, verifySightingReport, type SignedSightingReport } from './sharing.ts';
import type { PostOutcome } from './sightingclient.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const key = SigningKey.generate();
const NOW = new Date('2026-12-06T12:00:00Z');
const H = 3_600_000;

function doc(i: number, updatedAt: number, bucket = NOW.getTime() - 2 * H): SightingDoc {
  const digest = i.toString(16).padStart(64, '0');
  return { _id: `${digest}:${new Date(bucket).toISOString()}`, digest, type: 'domain', value: `v${i}.example`, partnerId: 'alpha', bucketStart: new Date(bucket), count: i + 1, firstSeen: new Date(bucket + 1000), lastSeen: new Date(bucket + 2000), sources: { 'zeek-dns': i + 1 }, updatedAt: new Date(updatedAt) };
}

// The store's order and paging, in memory: (updatedAt, _id) strictly after the position.
function memory(docs: SightingDoc[]): { changedSince: (a: PushPosition | undefined, l: number) => Promise<SightingDoc[]>; positions: Map<string, PushPosition> } {
  const after = (d: SightingDoc, a: PushPosition | undefined): boolean => a === undefined || d.updatedAt!.getTime() > a.updatedAt.getTime() || (d.updatedAt!.getTime() === a.updatedAt.getTime() && d._id > a.id);
  return {
    changedSince: (a, l) => Promise.resolve(docs.filter((d) => after(d, a)).sort((x, y) => x.updatedAt!.getTime() - y.updatedAt!.getTime() || (x._id < y._id ? -1 : 1)).slice(0, l)),
    positions: new Map(),
  };
}

function peer(name: string, answers: PostOutcome['outcome'][], got: SignedSightingReport[]): PushPeer {
  return {
    name,
    post: (r) => {
      got.push(r);
      const outcome = answers.shift() ?? 'sent';
      return Promise.resolve(outcome === 'sent' ? { outcome, accepted: r.report.sightings.length, ignored: 0 } : { outcome, status: outcome === 'refused' ? 403 : 503, detail: 'x' });
    },
  };
}

function pusher(m: ReturnType<typeof memory>, peers: PushPeer[], batch?: number): SightingPusher {
  return new SightingPusher({
    partnerId: 'alpha', key, peers, changedSince: m.changedSince, now: () => NOW, log: quiet, ...(batch !== undefined ? { batch } : {}),
    positions: { get: (p) => Promise.resolve(m.positions.get(p)), save: (p, at) => Promise.resolve(void m.positions.set(p, at)) },
  });
}

test('pushes in batches, each a report the receiver verifies, carrying only digests, counts and buckets; then nothing until something changes', async () => {
  const docs = [doc(1, 10), doc(2, 20), doc(3, 20), doc(4, 30), doc(5, 40)];
  const m = memory(docs);
  const got: SignedSightingReport[] = [];
  const r = await pusher(m, [peer('bravo', [], got)], 2).pushOnce();
  assert.deepEqual(r, [{ peer: 'bravo', sent: 5, reports: 3, tooOld: 0 }]);
  for (const g of got) {
    const v = verifySightingReport(JSON.parse(JSON.stringify(g)), { id: 'alpha', key: key.publicKey }, NOW);
    assert.ok(v.ok, v.ok ? '' : v.message);
    assert.ok(!JSON.stringify(g).includes('.example') && !JSON.stringify(g).includes('zeek'), 'values and source types stay home');
  }
  assert.deepEqual(got.flatMap((g) => g.report.sightings.map((s) => s.count)), [2, 3, 4, 5, 6]);
  assert.deepEqual((await pusher(m, [peer('bravo', [], got)], 2).pushOnce())[0]?.sent, 0);
  docs.push(doc(2, 50));
  assert.deepEqual((await pusher(m, [peer('bravo', [], got)], 2).pushOnce())[0]?.sent, 1);
});

test('a peer that is down or refuses keeps its position; other peers go on', async () => {
  const m = memory([doc(1, 10), doc(2, 20), doc(3, 30)]);
  const b: SignedSightingReport[] = [];
  const c: SignedSightingReport[] = [];
  const r = await pusher(m, [peer('bravo', ['sent', 'unavailable'], b), peer('charlie', ['refused'], c)], 1).pushOnce();
  assert.equal(r[0]?.sent, 1);
  assert.equal(r[0]?.stopped?.outcome, 'unavailable');
  assert.equal(r[1]?.sent, 0);
  assert.equal(r[1]?.stopped?.outcome, 'refused');
  assert.equal(m.positions.get('bravo')?.updatedAt.getTime(), 10, 'up to the accepted report only');
  assert.equal(m.positions.get('charlie'), undefined);
  const again = await pusher(m, [peer('bravo', [], b), peer('charlie', [], c)], 1).pushOnce();
  assert.deepEqual(again.map((x) => x.sent), [2, 3], 'everything not accepted is sent again, nothing twice to bravo');
});

test('buckets older than the receiver accepts are left out (counted), so they cannot block the push', async () => {
  const old = NOW.getTime() - SHARING_LIMITS.maxAgeMs;
  const m = memory([doc(1, 10, old - (old % H)), doc(2, 20)]);
  const got: SignedSightingReport[] = [];
  const r = await pusher(m, [peer('bravo', [], got)]).pushOnce();
  assert.deepEqual(r, [{ peer: 'bravo', sent: 1, reports: 1, tooOld: 1 }]);
  const v = verifySightingReport(JSON.parse(JSON.stringify(got[0])), { id: 'alpha', key: key.publicKey }, NOW);
  assert.ok(v.ok);
});
