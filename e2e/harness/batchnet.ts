/**
 * The three-party network the protocol version 2 attack tests (attacks-batches.test.ts,
 * attacks-batchproposals.test.ts) mount their attacks on: alpha, bravo and charlie, each a
 * contributor and voter with its own Ed25519 key; the real sequencer (log on FerretDB) behind a
 * {@link HostileSequencer} that is honest until told otherwise, or any hostile core, served by
 * the real exchange endpoint over gRPC with mutual TLS; and partner alpha's real replica and
 * MongoDB sink on FerretDB. Registers the attack bed's hooks in the calling test file.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { PublicKey, SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { ExchangeCallError, ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { PendingRound } from '../../operator/src/exchange/protocol/messages.ts';
import type { PartnerEntry } from '../../operator/src/exchange/protocol/tls.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import type { EntryBody } from '../../operator/src/domain/entry.ts';
import { attackBedHooks } from './attackbed.ts';
import { HostileLog } from './hostile.ts';
import { uniqueSuffix } from './env.ts';

/** The parties of the network. */
export type BatchNetId = 'alpha' | 'bravo' | 'charlie';

/** Every {@link BatchNetId}. */
export const BATCH_NET_IDS: readonly BatchNetId[] = ['alpha', 'bravo', 'charlie'];

/** The voting window partners assume (72 h, the default). */
export const BATCH_NET_WINDOW_MS = 72 * 3_600_000;

/** The honest sequencer with the pending rounds voters see rewritten, as a sequencer under an attacker's control. */
export class HostileSequencer implements SequencerCore {
  readonly honest: Sequencer;
  /** Rewrites what ListPending shows; undefined: honest. */
  pendingLie: ((rounds: PendingRound[]) => PendingRound[]) | undefined;
  constructor(honest: Sequencer) {
    this.honest = honest;
  }
  pending(): PendingRound[] {
    const rounds = this.honest.pending();
    return this.pendingLie?.(rounds) ?? rounds;
  }
  propose(...a: Parameters<Sequencer['propose']>): ReturnType<Sequencer['propose']> { return this.honest.propose(...a); }
  vote(...a: Parameters<Sequencer['vote']>): ReturnType<Sequencer['vote']> { return this.honest.vote(...a); }
  waitForSize(min: number, waitMs: number): Promise<void> { return this.honest.waitForSize(min, waitMs); }
  treeHead(): ReturnType<Sequencer['treeHead']> { return this.honest.treeHead(); }
  inclusionProof(i: number, size: number): string[] { return this.honest.inclusionProof(i, size); }
  consistencyProof(a: number, b: number): string[] { return this.honest.consistencyProof(a, b); }
  entries(from: number, size: number): ReturnType<Sequencer['entries']> { return this.honest.entries(from, size); }
}

/** The network of one test file. */
export interface BatchNet {
  /** Unique to this run, for indicator values and database names. */
  readonly suffix: string;
  /** A logger that writes nothing. */
  readonly quiet: Logger;
  readonly keys: Readonly<Record<BatchNetId, SigningKey>>;
  /** The directory the sequencer (and, where a test says so, a voter) uses. */
  readonly partners: PartnerEntry[];
  /** A party's own directory: its own key objects, so no other party's remembered signatures answer its checks. */
  readonly ownDirectory: () => PartnerEntry[];
  /** Serves `core` over the real endpoint with mutual TLS; a client per party. */
  readonly serve: (core: SequencerCore) => Promise<Record<BatchNetId, ExchangeClient>>;
  /** The real sequencer (log on FerretDB, quorum 2), behind a hostile wrapper that is honest until told otherwise. */
  readonly realNetwork: () => Promise<{ seq: Sequencer; hostile: HostileSequencer; clients: Record<BatchNetId, ExchangeClient>; key: SigningKey }>;
  /** Partner alpha replicating `core` (log key `key`) over gRPC into a fresh FerretDB database. */
  readonly partnerOf: (core: SequencerCore, key: SigningKey) => Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink }>;
  /** Serves `entries` as a hostile log (genuine tree heads) to partner alpha and asserts it halts with `reason` at `index`; returns the halt and alpha's sink. */
  readonly haltsOn: (entries: readonly EntryBody[], reason: string, index: number) => Promise<{ halt: ReplicationHalted; sink: MongoIndicatorSink }>;
}

/** Registers the bed's hooks (CA `name`, databases `<dbPrefix>_<suffix>_<n>`) and returns the network; read it inside tests. */
export function batchNetHooks(name: string, dbPrefix: string): BatchNet {
  const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
  const suffix = uniqueSuffix();
  const keys = Object.fromEntries(BATCH_NET_IDS.map((id) => [id, SigningKey.generate()])) as Record<BatchNetId, SigningKey>;
  const entry = (id: BatchNetId, publicKey: PublicKey): PartnerEntry => ({ partnerId: id, publicKey, roles: ['contributor', 'voter'] });
  const partners = BATCH_NET_IDS.map((id) => entry(id, keys[id].publicKey));
  const ownDirectory = (): PartnerEntry[] => BATCH_NET_IDS.map((id) => entry(id, PublicKey.fromRawBase64(keys[id].publicKey.toRawBase64())));
  const closers: Array<() => Promise<void> | void> = [];
  const bed = attackBedHooks(name, [...BATCH_NET_IDS, 'sequencer'] as const, closers);
  let n = 0;
  const freshDb = () => {
    const db = bed.mongo.db(`${dbPrefix}_${suffix}_${n++}`);
    closers.push(() => db.dropDatabase().then(() => undefined));
    return db;
  };
  const serve = async (core: SequencerCore): Promise<Record<BatchNetId, ExchangeClient>> => {
    const server = await startExchangeServer({ sequencer: core, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
    closers.push(() => server.stop());
    const clients = {} as Record<BatchNetId, ExchangeClient>;
    for (const id of BATCH_NET_IDS) {
      clients[id] = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls[id], serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
      closers.push(() => clients[id].close());
    }
    return clients;
  };
  const partnerOf: BatchNet['partnerOf'] = async (core, key) => {
    const clients = await serve(core);
    const db = freshDb();
    const sink = await MongoIndicatorSink.open(db);
    const replica = new PartnerReplica({ sourceId: 'sequencer', source: clients.alpha, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: key.publicKey, partners: ownDirectory(), quorum: 2, votingWindowMs: BATCH_NET_WINDOW_MS }, now: () => new Date(), log: quiet });
    return { replica, sink };
  };
  return {
    suffix, quiet, keys, partners, ownDirectory, serve, partnerOf,
    haltsOn: async (entries, reason, index) => {
      const log = new HostileLog();
      log.append(...entries);
      const { replica, sink } = await partnerOf(log, log.key);
      const halt = await haltOf(replica);
      assert.deepEqual([halt.reason, halt.index], [reason, index], halt.message);
      return { halt, sink };
    },
    realNetwork: async () => {
      const key = SigningKey.generate();
      const seq = await Sequencer.open({ store: await MongoLogStore.open(freshDb()), key, partners, quorum: 2, now: () => new Date(), log: quiet });
      const hostile = new HostileSequencer(seq);
      return { seq, hostile, clients: await serve(hostile), key };
    },
  };
}

/** The halt `replica.sync()` ends in; fails the test when it does not halt. */
export async function haltOf(replica: PartnerReplica): Promise<ReplicationHalted> {
  const err = await replica.sync().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected a halt, got ${String(err)}`);
  return err;
}

/** The refusal `call` ends in; fails the test when it succeeds or fails otherwise. */
export async function refusalOf(call: Promise<unknown>): Promise<ExchangeCallError> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ExchangeCallError, `expected a refusal, got ${String(err)}`);
  return err;
}
