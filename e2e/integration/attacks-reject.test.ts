/**
 * Trust model, signed rejections (docs/adr/2026-12-06-signed-rejections.md): an ADD round
 * rejected by votes is logged as a REJECT entry carrying the proposal and the reject votes, and
 * every partner verifies it as strictly as an ADD before recording it in `rejections` (never in
 * `indicators`). A malicious sequencer holds the log key: it forges a REJECT without a rejection
 * quorum, proves one with votes for another subject or with approvals, replays a rejection after
 * the indicator was admitted, or duplicates and reorders REJECT leaves. Every vote and proposal
 * signature in these logs is genuine (made by the real sequencer's rounds and the partners' keys);
 * only the log is the attacker's. Real parts: the real sequencer and the hostile log behind the
 * real exchange endpoint over gRPC with mutual TLS, the partner's real replica and MongoDB sink
 * on FerretDB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { metaJson, signProposal, type EntryBody, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type VoteDecision } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeCallError, ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MemoryLogStore } from '../../operator/src/store/memory.ts';
import { attackBedHooks } from '../harness/attackbed.ts';
import { HostileLog } from '../harness/hostile.ts';
import { uniqueSuffix } from '../harness/env.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const { keys, directory: partners } = votingParties(IDS);
const HOUR = 3_600_000;
const WINDOW = 72 * HOUR;
const META: IndicatorMeta = { source: 'feeds/noisy', tlp: 'green' };
const ind = (value: string): Indicator => ({ type: 'domain', value });

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-attack-reject', [...IDS, 'sequencer'] as const, closers);
let n = 0;

/** Serves `core` over the real endpoint; the partner alpha replicates it into a fresh database. */
async function partnerOf(core: SequencerCore, sequencerKey: SigningKey): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink; client: (id: Id) => ExchangeClient }> {
  const server = await startExchangeServer({ sequencer: core, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  const client = (id: Id): ExchangeClient => {
    const c = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls[id], serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
    closers.push(() => c.close());
    return c;
  };
  const db = bed.mongo.db(`tm_attack_reject_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  const replica = new PartnerReplica({ sourceId: 'sequencer', source: client('alpha'), sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: sequencerKey.publicKey, partners, quorum: 2, votingWindowMs: WINDOW }, now: () => new Date(), log: quiet });
  return { replica, sink, client };
}

async function hostilePartner(...bodies: EntryBody[]): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink }> {
  const log = new HostileLog();
  log.append(...bodies);
  return partnerOf(log, log.key);
}

/**
 * Genuine rounds of one indicator made by the real sequencer, an hour apart, each decided by
 * bravo and charlie: 'reject' rounds end in a REJECT entry, 'approve' rounds in an ADD.
 */
async function genuineRounds(indicator: Indicator, decisions: readonly VoteDecision[]): Promise<EntryBody[]> {
  let clock = Date.now() - 5 * 24 * HOUR;
  const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(clock), log: quiet });
  for (const decision of decisions) {
    const { subject } = await seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), metaJson: metaJson(META), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator, META) });
    for (const v of ['bravo', 'charlie'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision, signedAt: new Date(clock).toISOString() }));
    clock += HOUR;
  }
  const bodies: EntryBody[] = [];
  for await (const { entry } of seq.entries(0, seq.size)) bodies.push(entry);
  assert.deepEqual(bodies.map((b) => b.kind), decisions.map((d) => (d === 'reject' ? 'reject' : 'add')));
  return bodies;
}

async function haltOf(replica: PartnerReplica): Promise<ReplicationHalted> {
  const err = await replica.sync().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected a halt, got ${String(err)}`);
  return err;
}


describe('signed rejections: the honest path', () => {
  test('partners reject over gRPC, the real sequencer logs a REJECT, the partner verifies it into rejections and never into indicators', async () => {
    const key = SigningKey.generate();
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key, partners, quorum: 2, now: () => new Date(), log: quiet });
    const { replica, sink, client } = await partnerOf(seq, key);
    const x = ind(`honest-reject-${suffix}.attack.example`);
    const { subject } = await client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(x), metaJson: metaJson(META), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', x, META) });
    const now = new Date().toISOString();
    await client('bravo').vote(signVote(keys.bravo, { partnerId: 'bravo', digest: subject, decision: 'reject', signedAt: now, reason: 'on a warning list' }));
    assert.equal((await client('charlie').vote(signVote(keys.charlie, { partnerId: 'charlie', digest: subject, decision: 'reject', signedAt: now }))).status, 'rejected');
    assert.equal(seq.size, 1);
    assert.equal((await replica.sync()).applied, 1);
    const [record] = await sink.rejections();
    assert.deepEqual([record?.digest, record?.proposerId, record?.meta, record?.votes.map((v) => v['partnerId'])], [indicatorDigest(x), 'alpha', META, ['bravo', 'charlie']]);
    assert.deepEqual(await sink.all(), [], 'a rejected indicator is never in indicators (what TAXII, exports and enforcement read)');
    // A proposal cannot claim the REJECT kind: rejections come only from votes.
    await assert.rejects(client('alpha').propose({ kind: 'reject' as never, indicatorJson: indicatorCanonicalJson(x), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', x) }), (err: unknown) => err instanceof ExchangeCallError && err.reason === 'invalid-kind');
  });

  test('the genuine history replicates: rejected twice, then admitted; rejections keep both rounds, indicators the admission only', async () => {
    const x = ind(`genuine-${suffix}.attack.example`);
    const { replica, sink } = await hostilePartner(...await genuineRounds(x, ['reject', 'reject', 'approve']));
    assert.equal((await replica.sync()).applied, 3);
    const rejections = await sink.rejections();
    assert.deepEqual(rejections.map((r) => [r.logIndex, r.digest, r.proposerId, r.meta?.source, r.votes.map((v) => v['decision'])]), [
      [0, indicatorDigest(x), 'alpha', 'feeds/noisy', ['reject', 'reject']],
      [1, indicatorDigest(x), 'alpha', 'feeds/noisy', ['reject', 'reject']],
    ]);
    assert.deepEqual((await sink.all()).map((r) => [r.state, r.logIndex]), [['active', 2]]);
  });
});

describe('signed rejections: a sequencer forging or replaying REJECT entries', () => {
  test('a REJECT with one reject vote, fewer than make the quorum unreachable: halt no-quorum, nothing recorded', async () => {
    const [reject] = await genuineRounds(ind(`thin-${suffix}.attack.example`), ['reject']);
    const { replica, sink } = await hostilePartner({ ...reject!, votes: reject!.votes.slice(0, 1) });
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['no-quorum', 0]);
    assert.deepEqual([await sink.rejections(), await sink.all()], [[], []]);
  });

  const proofs: ReadonlyArray<[string, (x: Indicator) => Promise<EntryBody>, string, RegExp]> = [
    ['reject votes of another indicator\'s rejected round', async (x) => {
      const [reject] = await genuineRounds(x, ['reject']);
      const [other] = await genuineRounds(ind(`other-${suffix}-${n}.attack.example`), ['reject']);
      return { ...reject!, votes: other!.votes };
    }, 'replayed-vote', /signed for another subject/],
    ['the approvals of the indicator\'s own admission', async (x) => {
      const [reject, add] = await genuineRounds(x, ['reject', 'approve']);
      return { ...reject!, window: add!.window, votes: add!.votes };
    }, 'no-quorum', /reject votes only/],
    ['a rejected round re-dated after its votes (the same rejection counted twice)', async (x) => {
      const [reject] = await genuineRounds(x, ['reject']);
      const later = Date.parse(reject!.window.opensAt) + HOUR;
      return { ...reject!, window: { opensAt: new Date(later).toISOString(), closesAt: new Date(later + WINDOW).toISOString() } };
    }, 'no-quorum', /valid reject vote/],
  ];
  for (const [what, forge, reason, message] of proofs) {
    test(`a REJECT proven by ${what}: halt ${reason}, nothing recorded`, async () => {
      const x = ind(`proof-${suffix}-${n}.attack.example`);
      const { replica, sink } = await hostilePartner(await forge(x));
      const halt = await haltOf(replica);
      assert.deepEqual([halt.reason, halt.index], [reason, 0]);
      assert.match(halt.message, message);
      assert.deepEqual([await sink.rejections(), await sink.all()], [[], []]);
    });
  }

  test('a REJECT replayed after the indicator was admitted does not remove it: halt replayed-entry, the indicator stays active', async () => {
    const x = ind(`replayed-${suffix}.attack.example`);
    const [reject, add] = await genuineRounds(x, ['reject', 'approve']);
    const { replica, sink } = await hostilePartner(reject!, add!, reject!);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['replayed-entry', 2]);
    assert.match(halt.message, /already active since entry 1/);
    assert.deepEqual((await sink.all()).map((r) => [r.state, r.logIndex]), [['active', 1]]);
    assert.deepEqual((await sink.rejections()).map((r) => r.logIndex), [0]);
  });

  const orders: ReadonlyArray<[string, (r: readonly EntryBody[]) => EntryBody[], number]> = [
    ['duplicated (the same REJECT leaf twice)', ([r1]) => [r1!, r1!], 1],
    ['reordered (the later rejection before the earlier one)', ([r1, r2]) => [r2!, r1!], 1],
    ['moved after the admission that followed it', ([r1, r2, add]) => [r1!, add!, r2!], 2],
  ];
  for (const [what, arrange, at] of orders) {
    test(`REJECT leaves ${what}: halt replayed-entry at entry ${at}, only the entries before it recorded`, async () => {
      const x = ind(`order-${suffix}-${n}.attack.example`);
      const rounds = await genuineRounds(x, ['reject', 'reject', 'approve']);
      const { replica, sink } = await hostilePartner(...arrange(rounds));
      const halt = await haltOf(replica);
      assert.deepEqual([halt.reason, halt.index], ['replayed-entry', at]);
      assert.equal((await sink.rejections()).length + (await sink.all()).length, at, 'every entry before the halt is recorded, none after');
    });
  }
});
