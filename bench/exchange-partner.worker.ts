/**
 * One partner of bench/exchange.bench.ts in its own thread (as each partner's operator is its
 * own process in a real network): runs a PartnerReplica into its database and posts
 * {@link PartnerMessage}s: per applied batch, the digests and the wall-clock time (Date.now(),
 * the one clock every thread shares); last, the CPU time the thread spent replicating.
 */
// Counts this thread's signature verifications when THREATMESH_VERIFY_COUNT_DIR is set (exchange.bench.ts sets it).
import './scale-verifycount.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import type { PartnerRole } from '../operator/src/domain/quorum.ts';
import { PublicKey } from '../operator/src/domain/signature.ts';
import { createLogger } from '../operator/src/log.ts';
import { ExchangeClient } from '../operator/src/exchange/protocol/client.ts';
import { PartnerReplica } from '../operator/src/exchange/partner/replica.ts';
import { type EntrySink, type VerifiedEntry } from '../operator/src/domain/stores.ts';
import type { TlsMaterial } from '../operator/src/exchange/protocol/tls.ts';
import { MongoCursorStore } from '../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../operator/src/store/indicators.ts';

/** What the benchmark passes to each partner thread. */
export interface PartnerWorkerData {
  readonly id: string;
  readonly mongoUri: string;
  readonly dbName: string;
  readonly address: string;
  readonly tls: TlsMaterial;
  readonly sequencerKey: string;
  readonly partners: ReadonlyArray<{ readonly partnerId: string; readonly publicKey: string; readonly roles: readonly PartnerRole[] }>;
  readonly count: number;
}

/** What a partner thread posts: an applied batch, or its CPU time at the end. */
export type PartnerMessage = { readonly at: number; readonly digests: string[] } | { readonly cpuMs: number };

const data = workerData as PartnerWorkerData;
const post = (m: PartnerMessage): void => parentPort?.postMessage(m);
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const mongo = new MongoClient(data.mongoUri);
await mongo.connect();
const db = mongo.db(data.dbName);
const inner = await MongoIndicatorSink.open(db);
let applied = 0;
const sink: EntrySink = {
  apply: (entry) => sink.applyMany!([entry]),
  applyMany: async (entries: readonly VerifiedEntry[]) => {
    await inner.applyMany(entries);
    applied += entries.length;
    post({ at: Date.now(), digests: entries.map((e) => e.digest) });
  },
};
const client = new ExchangeClient({ address: data.address, tls: data.tls, serverName: 'localhost', deadlineMs: 60_000 });
const replica = new PartnerReplica({
  sourceId: 'sequencer', source: client, sink, cursors: new MongoCursorStore(db), now: () => new Date(), log: quiet, checkpointEvery: 1024,
  anchors: { sequencerKey: PublicKey.fromRawBase64(data.sequencerKey), partners: data.partners.map((p) => ({ partnerId: p.partnerId, publicKey: PublicKey.fromRawBase64(p.publicKey), roles: p.roles })), quorum: 2 },
});
const stop = new AbortController();
const watch = setInterval(() => { if (applied >= data.count) stop.abort(); }, 20);
const cpuStart = process.threadCpuUsage();
await replica.run({ signal: stop.signal, waitMs: 1_000 });
const cpu = process.threadCpuUsage(cpuStart);
clearInterval(watch);
client.close();
await mongo.close();
post({ cpuMs: (cpu.user + cpu.system) / 1000 });
