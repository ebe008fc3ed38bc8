/**
 * The sightings push of `threatmesh operator --exchange --sightings-peers FILE`: on the leader,
 * every `--sightings-push-interval` the partner sends the sightings its LogScans found since the
 * last push to each peer in FILE (match/peers.ts), signed with its exchange key, through the
 * peers' sightings API (match/push.ts). Peers that are down get everything once they are back.
 * Metrics: `threatmesh_sightings_pushed_total{peer}`, `threatmesh_sightings_push_failures_total{peer,outcome}`.
 */
import { readFile } from 'node:fs/promises';
import { Counter, type Registry } from 'prom-client';
import { parseDuration } from '../controllers/schedule.ts';
import type { SigningKey } from '../domain/signature.ts';
import type { Logger } from '../log.ts';
import { parsePeers, peerEndpoint } from '../match/peers.ts';
import { SightingPusher } from '../match/push.ts';
import { postReport, type SightingEndpoint } from '../match/sightingclient.ts';
import { systemClock, sleep } from '../runtime/clock.ts';
import type { Runnable } from '../runtime/manager.ts';
import { MongoPushPositions } from '../store/receivedsightings.ts';
import { MongoScanStore } from '../store/sightings.ts';
import { UsageError } from './errors.ts';
import { readFlagFile } from './flags.ts';
import { mongoClient } from '../store/connect.ts';

/** Default of `--sightings-push-interval`. */
export const SIGHTINGS_PUSH_INTERVAL = '5m';

/** The operator flags this module reads. */
export interface SightingFlags {
  readonly sightingsPeers?: string;
  readonly sightingsPushInterval?: string;
}

/** Validated push settings: the peers with their certificates and tokens read, and the period. */
export interface SightingPushSettings {
  readonly peers: ReadonlyArray<{ readonly name: string; readonly endpoint: SightingEndpoint }>;
  readonly intervalMs: number;
}

/** Reads and checks the flags; undefined without --sightings-peers. Throws naming the flag. */
export async function checkSightingFlags(flags: SightingFlags, exchange: boolean): Promise<SightingPushSettings | undefined> {
  if (flags.sightingsPeers === undefined) {
    if (flags.sightingsPushInterval !== undefined) throw new UsageError('--sightings-push-interval needs --sightings-peers FILE (the peers to push to)');
    return undefined;
  }
  if (!exchange) throw new UsageError('--sightings-peers needs --exchange: sightings are signed with the partner key and read from the partner database');
  let peers: SightingPushSettings['peers'];
  try {
    const configs = parsePeers(await readFlagFile('--sightings-peers', flags.sightingsPeers));
    peers = await Promise.all(configs.map(async (p) => ({ name: p.name, endpoint: await peerEndpoint(p, (path) => readFile(path, 'utf8')) })));
  } catch (err) {
    throw new Error(`--sightings-peers ${flags.sightingsPeers}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const text = flags.sightingsPushInterval ?? SIGHTINGS_PUSH_INTERVAL;
  let intervalMs: number;
  try {
    intervalMs = parseDuration(text);
  } catch (err) {
    throw new UsageError(`--sightings-push-interval: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (intervalMs < 10_000) throw new UsageError(`--sightings-push-interval must be at least 10s, got ${text}`);
  return { peers, intervalMs };
}

/** Where the partner's sightings are and who it is. */
export interface SightingPushParty {
  readonly mongodbUri: string;
  readonly database: string;
  readonly partnerId: string;
  readonly key: SigningKey;
}

/** The Runnable that pushes on the leader until stopped. */
export function sightingsPushRunnable(s: SightingPushSettings, party: SightingPushParty, deps: { readonly log: Logger; readonly registry: Registry }): Runnable {
  const log = deps.log.child({ component: 'sightings-push' });
  const pushed = new Counter({ name: 'threatmesh_sightings_pushed_total', help: 'Sightings sent to a peer in reports it accepted', labelNames: ['peer'], registers: [deps.registry] });
  const failures = new Counter({ name: 'threatmesh_sightings_push_failures_total', help: 'Pushes to a peer that stopped early: refused (fix the peer\'s serve config) or unavailable (retried)', labelNames: ['peer', 'outcome'], registers: [deps.registry] });
  for (const p of s.peers) {
    pushed.inc({ peer: p.name }, 0);
    for (const outcome of ['refused', 'unavailable']) failures.inc({ peer: p.name, outcome }, 0);
  }
  const abort = new AbortController();
  const mongo = mongoClient(party.mongodbUri);
  let loop: Promise<void> = Promise.resolve();
  const db = mongo.db(party.database);
  let pusher: SightingPusher | undefined;
  // The store opens (indexes created) on the first period the database answers.
  const pushOnce = async (): Promise<void> => {
    if (pusher === undefined) {
      const store = await MongoScanStore.open(db);
      pusher = new SightingPusher({
        partnerId: party.partnerId, key: party.key, peers: s.peers.map((e) => ({ name: e.name, post: (r) => postReport(e.endpoint, r) })),
        changedSince: (after, limit) => store.changedSince(after, limit), positions: new MongoPushPositions(db), now: () => new Date(), log,
      });
    }
    for (const r of await pusher.pushOnce()) {
      pushed.inc({ peer: r.peer }, r.sent);
      if (r.stopped !== undefined) failures.inc({ peer: r.peer, outcome: r.stopped.outcome });
      if (r.sent > 0 || r.tooOld > 0) log.info('pushed sightings', { peer: r.peer, sightings: r.sent, reports: r.reports, tooOld: r.tooOld });
    }
  };
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      await pushOnce().catch((err: unknown) => log.warn('sightings push failed; retrying next period (is the partner database up?)', { err: err instanceof Error ? err.message : String(err) }));
      await sleep(systemClock, s.intervalMs, abort.signal);
    }
  };
  return {
    name: 'sightings-push',
    start: () => {
      loop = run();
    },
    stop: async () => {
      abort.abort();
      await loop;
      await mongo.close();
      return true;
    },
  };
}
