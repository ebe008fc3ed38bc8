/**
 * The sequencer as a long-running service (`threatmesh sequencer`): the partner directory is
 * read live from the PartnerNodes of one namespace, and — only while this replica holds the
 * Lease, when leader election is on — the {@link Sequencer} is opened from MongoDB and served
 * over gRPC with mutual TLS. Rounds whose window closed are expired periodically. Metrics and
 * health (/metrics, /healthz, /readyz: ready only while serving) are served on their own port,
 * from the start: while the database is waited for ({@link SequencerServiceOptions.connectDb})
 * /healthz answers and /readyz says why not ready (database-unavailable, attempt N).
 * Every dependency (Kubernetes client, database, keys, TLS material, logger, clock) is passed in.
 */
import type { Db } from 'mongodb';
import { PARTNER_NODES } from '../../api/schemas/index.ts';
import type { PartnerNode } from '../../api/types.ts';
import { createValidators, validatorFor } from '../../api/validate.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { RetiredKey } from '../../domain/keys.ts';
import type { Logger } from '../../log.ts';
import type { KubeReader, KubeWriter } from '../../runtime/client.ts';
import { sleep, systemClock, type Clock, type TimerHandle } from '../../runtime/clock.ts';
import { HealthServer } from '../../runtime/health.ts';
import { Informer } from '../../runtime/informer.ts';
import { LeaderElector } from '../../runtime/leader.ts';
import type { ManagerLeaderElection } from '../../runtime/manager.ts';
import { MongoLogStore } from '../../store/log.ts';
import { mongoUnreachable } from '../../store/connect.ts';
import { retryWithBackoff } from '../../runtime/retry.ts';
import { MongoRoundStore } from '../../store/rounds.ts';
import { SEQUENCER_DEFAULTS } from './defaults.ts';
import { sequencerDirectory, type SequencerDirectory } from './directory.ts';
import { SequencerMetrics } from './metrics.ts';
import { Sequencer } from './sequencer.ts';
import { startExchangeServer, type ExchangeServer } from './server.ts';
import type { PartnerEntry, TlsMaterial } from '../protocol/tls.ts';

/** A host and port to listen on (port 0 picks a free one). */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

/** Lease settings of a replicated sequencer: the same the operator's Manager takes. */
export type SequencerLeaderElection = ManagerLeaderElection;

/** Everything the service is built from. */
export interface SequencerServiceOptions {
  /** Reads and watches PartnerNodes; writes the Lease. */
  readonly kube: KubeReader & KubeWriter;
  /** The sequencer's database (log_entries, tree_heads, pending_rounds). */
  readonly db: Db;
  /**
   * Connects the database before anything else starts (the health server already answers),
   * waiting while it is down; told each failed attempt. Resolves false when the wait was ended
   * (SIGTERM): the service then starts nothing more. @default none (db is connected already)
   */
  readonly connectDb?: (onFailure: (err: unknown, attempt: number, delayMs: number) => void) => Promise<boolean>;
  /** Namespace of the PartnerNodes. */
  readonly namespace: string;
  /** The sequencer's own partner id (its PartnerNode's partnerId, its certificate CN). */
  readonly partnerId: string;
  /** Signs tree heads; must match the public key of the sequencer's PartnerNode. */
  readonly key: SigningKey;
  readonly tls: TlsMaterial;
  readonly listen: BindAddress;
  readonly metricsBind: BindAddress;
  /** Approvals required. @default ⌊2n/3⌋+1 of the voters */
  readonly quorum?: number;
  /** How long a round accepts votes. @default SEQUENCER_DEFAULTS.votingWindowMs */
  readonly windowMs?: number;
  /** Most rounds one proposer may have open. @default SEQUENCER_DEFAULTS.maxOpenRoundsPerProposer */
  readonly maxOpenRoundsPerProposer?: number;
  /** Recent log entries kept in memory to serve partners (0: always read the database). @default SEQUENCER_DEFAULTS.entryCacheSize */
  readonly entryCacheSize?: number;
  /** How often rounds whose window closed are dropped. @default SEQUENCER_DEFAULTS.expireEveryMs */
  readonly expireEveryMs?: number;
  /** How long to wait for the first list of PartnerNodes. @default SEQUENCER_DEFAULTS.syncTimeoutMs */
  readonly syncTimeoutMs?: number;
  /** Serve only while holding this Lease. @default none (serve at once) */
  readonly leaderElection?: SequencerLeaderElection;
  readonly log: Logger;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** A running service. */
export interface SequencerService {
  /** Port of /metrics, /healthz and /readyz. */
  readonly metricsPort: number;
  /** Resolves with the reason when the service ended by itself: the Lease was lost, or serving failed after winning it. */
  readonly ended: Promise<string>;
  /** The gRPC port while serving. */
  servingPort(): number | undefined;
  /** Stops serving, releases the Lease, stops watching and closes the metrics server. */
  stop(): Promise<void>;
}

/** Name of the sequencer's Lease. */
export const SEQUENCER_LEASE_NAME = 'threatmesh-sequencer-leader';


interface Serving {
  readonly sequencer: Sequencer;
  readonly server: ExchangeServer;
}

/** Starts the service; rejects (after cleaning up) when it cannot: flags the cluster contradicts, an unreachable cluster, a log that does not verify. */
export async function startSequencerService(opts: SequencerServiceOptions): Promise<SequencerService> {
  const hub = new SequencerRunner(opts);
  try {
    await hub.start();
  } catch (err) {
    await hub.stop();
    throw err;
  }
  return { metricsPort: hub.metricsPort, ended: hub.ended, servingPort: () => hub.servingPort(), stop: () => hub.stop() };
}

class SequencerRunner {
  readonly #opts: SequencerServiceOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #validator = validatorFor(createValidators(), 'PartnerNode');
  readonly #metrics = new SequencerMetrics(() => this.#serving?.sequencer, () => this.#serving?.server);
  readonly #informer: Informer<PartnerNode>;
  // Handed to the gRPC server, which reads it on every call: updated in place.
  readonly #directory = new Map<string, PartnerEntry>();
  readonly #health: HealthServer;
  #elector: LeaderElector | undefined;
  #serving: Serving | undefined;
  #starting: Promise<void> | undefined;
  // Ends the wait for the database of a term that cannot serve yet (the Lease lost, a stop).
  #serveWait: AbortController | undefined;
  #expireTimer: TimerHandle | undefined;
  #reported = new Set<string>();
  #selfRetiredKeys: readonly RetiredKey[] = [];
  #stopping = false;
  // Why the database is not ready yet (undefined once connected).
  #dbWait: string | undefined;
  #end: (why: string) => void = () => undefined;
  readonly ended: Promise<string>;
  metricsPort = 0;

  constructor(opts: SequencerServiceOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log;
    this.ended = new Promise((resolve) => {
      this.#end = resolve;
    });
    this.#informer = new Informer<PartnerNode>({ client: opts.kube, ref: PARTNER_NODES, namespace: opts.namespace, log: opts.log.child({ component: 'partnernodes' }), clock: this.#clock });
    this.#health = new HealthServer({
      metrics: this.#metrics.runtime, log: opts.log, host: opts.metricsBind.host, port: opts.metricsBind.port,
      readyChecks: [{ name: 'database', check: () => this.#dbWait ?? true }, { name: 'serving', check: () => (this.#serving !== undefined ? true : this.#elector !== undefined ? 'not serving: another replica holds the Lease, or this one is starting' : 'not serving yet') }],
    });
  }

  servingPort(): number | undefined {
    return this.#serving?.server.port;
  }

  async start(): Promise<void> {
    this.metricsPort = await this.#health.start();
    this.#log.info('serving metrics and health', { address: this.#opts.metricsBind.host, port: this.metricsPort });
    if (!(await this.#connectDb())) return;
    await this.#syncDirectory();
    const le = this.#opts.leaderElection;
    if (le === undefined) {
      await this.#serve();
      return;
    }
    this.#elector = new LeaderElector({
      client: this.#opts.kube, log: this.#log, metrics: this.#metrics.runtime, clock: this.#clock, ...le,
      onStartedLeading: () => {
        this.#starting = this.#serveWhileLeading();
      },
      onStoppedLeading: () => {
        if (!this.#stopping) void this.#lose();
      },
    });
    this.#elector.start();
    this.#log.info('waiting for the Lease', { lease: le.name, namespace: le.namespace, identity: le.identity });
  }

  // Waits for the database (connectDb); /readyz says why meanwhile. False when the wait was ended.
  async #connectDb(): Promise<boolean> {
    const connect = this.#opts.connectDb;
    if (connect === undefined) return true;
    this.#dbWait = 'connecting to the database';
    const connected = await connect((_err, attempt) => {
      this.#metrics.dbConnectFailures.inc();
      this.#dbWait = `database-unavailable: cannot reach MongoDB (attempt ${attempt} failed); retrying with backoff: check that MongoDB runs and that --mongodb-uri reaches it`;
    });
    if (connected) this.#dbWait = undefined;
    return connected;
  }

  async #syncDirectory(): Promise<void> {
    const { namespace } = this.#opts;
    const refresh = (): void => {
      if (this.#informer.hasSynced()) this.#refresh();
    };
    // Resyncs deliver the same object twice: nothing changed then.
    this.#informer.addHandler({ onAdd: refresh, onUpdate: (a, b) => { if (a !== b) refresh(); }, onDelete: refresh });
    this.#informer.start();
    const abort = new AbortController();
    const timeoutMs = this.#opts.syncTimeoutMs ?? SEQUENCER_DEFAULTS.syncTimeoutMs;
    const synced = await Promise.race([this.#informer.waitForSync().then(() => true), sleep(this.#clock, timeoutMs, abort.signal).then(() => false)]);
    abort.abort();
    if (!synced) throw new Error(`could not list PartnerNodes in namespace ${namespace} within ${timeoutMs / 1000} s; check --kubeconfig, that the CRDs are applied (kubectl apply -f crds/) and that this identity may get/list/watch partnernodes`);
    const dir = this.#refresh();
    if (dir.selfKey === undefined) {
      this.#log.warn('no PartnerNode with role sequencer and this partner id; partners cannot find or verify this sequencer until one is applied', { namespace, partnerId: this.#opts.partnerId, publicKey: this.#opts.key.publicKey.toRawBase64() });
    } else if (!dir.selfKey.equals(this.#opts.key.publicKey)) {
      throw new Error(`the sequencer PartnerNode for ${this.#opts.partnerId} in namespace ${namespace} publishes public key ${dir.selfKey.toRawBase64()}, but --signing-key has public key ${this.#opts.key.publicKey.toRawBase64()}; partners would refuse every tree head. Start with the key the PartnerNode publishes, or update its spec.publicKey`);
    }
  }

  // Rebuilds the directory from the cache; logs what changed and each newly skipped PartnerNode once.
  #refresh(): SequencerDirectory {
    const dir = sequencerDirectory(this.#informer.list(this.#opts.namespace), this.#opts.partnerId, this.#validator);
    this.#selfRetiredKeys = dir.selfRetiredKeys ?? [];
    const before = [...this.#directory.keys()];
    this.#directory.clear();
    for (const p of dir.partners) this.#directory.set(p.partnerId, p);
    this.#serving?.sequencer.setPartners(dir.partners);
    const after = [...this.#directory.keys()];
    if (before.join() !== after.join()) this.#log.info('partner directory changed', { partners: after, added: after.filter((id) => !before.includes(id)), removed: before.filter((id) => !after.includes(id)) });
    this.#reportSkipped(dir);
    return dir;
  }

  #reportSkipped(dir: SequencerDirectory): void {
    const now = new Set(dir.skipped.map((s) => `${s.name}\n${s.reason}`));
    for (const s of dir.skipped) {
      if (!this.#reported.has(`${s.name}\n${s.reason}`)) this.#log.warn('PartnerNode skipped', { namespace: this.#opts.namespace, name: s.name, reason: s.reason });
    }
    this.#reported = now;
    if (dir.selfKey !== undefined && !dir.selfKey.equals(this.#opts.key.publicKey) && this.#serving !== undefined) {
      const retired = dir.selfRetiredKeys?.find((k) => k.publicKey.equals(this.#opts.key.publicKey));
      if (retired !== undefined) this.#log.warn('tree-head key rotation: the sequencer PartnerNode publishes a new key and retires this one; restart with the new --signing-key before the old key expires', { partnerId: this.#opts.partnerId, validUntil: retired.validUntil });
      else this.#log.error('the sequencer PartnerNode now publishes another public key than --signing-key; partners will refuse the tree heads until they match', { partnerId: this.#opts.partnerId });
    }
  }

  // A database that does not answer when this replica wins the Lease is waited for with backoff
  // while the Lease is renewed, as at start (connectDb): exiting would be a crash to the
  // supervisor, and the other replica reaches the same database. Anything else (a log that does
  // not verify, a port in use) ends the process, saying why.
  async #serveWhileLeading(): Promise<void> {
    const wait = new AbortController();
    this.#serveWait = wait;
    try {
      await retryWithBackoff(() => this.#serve(), {
        signal: wait.signal, clock: this.#clock,
        fatal: (err) => (mongoUnreachable(err) ? undefined : err instanceof Error ? err.message : String(err)),
        onFailure: (err, attempt, delayMs) => {
          this.#metrics.dbConnectFailures.inc();
          this.#dbWait = `database-unavailable: the Lease is held but MongoDB does not answer (attempt ${attempt} to serve failed); retrying with backoff: check that MongoDB runs and that --mongodb-uri reaches it`;
          this.#log.error('cannot serve after winning the Lease: the database does not answer; retrying with backoff', { cause: 'database-unavailable', attempt, retryInMs: delayMs, detail: (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300) });
        },
      });
      this.#dbWait = undefined;
    } catch (err) {
      this.#end(`cannot serve after winning the Lease: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async #serve(): Promise<void> {
    const o = this.#opts;
    const now = (): Date => new Date(this.#clock.now());
    const sequencer = await Sequencer.open({
      store: await MongoLogStore.open(o.db), rounds: new MongoRoundStore(o.db), key: o.key, partners: [...this.#directory.values()], retiredKeys: this.#selfRetiredKeys,
      windowMs: o.windowMs ?? SEQUENCER_DEFAULTS.votingWindowMs, maxOpenRoundsPerProposer: o.maxOpenRoundsPerProposer ?? SEQUENCER_DEFAULTS.maxOpenRoundsPerProposer, now, log: o.log.child({ component: 'sequencer' }), observer: this.#metrics.observer(), ...(o.entryCacheSize !== undefined ? { entryCacheSize: o.entryCacheSize } : {}), ...(o.quorum !== undefined ? { quorum: o.quorum } : {}),
    }).catch((err: unknown) => {
      throw new Error(`cannot open the sequencer (${[...this.#directory.values()].filter((p) => p.roles.includes('voter')).length} voter PartnerNodes in namespace ${o.namespace}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    const address = o.listen.host.includes(':') ? `[${o.listen.host}]:${o.listen.port}` : `${o.listen.host}:${o.listen.port}`;
    const server = await startExchangeServer({ sequencer, directory: this.#directory, tls: o.tls, address, log: o.log.child({ component: 'exchange' }) });
    if (this.#stopping || (this.#elector !== undefined && !this.#elector.isLeader())) {
      await server.stop();
      return;
    }
    this.#serving = { sequencer, server };
    this.#metrics.serving.set(1);
    this.#scheduleExpire();
    o.log.info('sequencer serving', { address: o.listen.host, port: server.port, treeSize: sequencer.size, partners: [...this.#directory.keys()] });
  }

  #scheduleExpire(): void {
    this.#expireTimer = this.#clock.setTimer(() => {
      const dropped = this.#serving?.sequencer.expire() ?? 0;
      if (dropped > 0) this.#log.info('expired rounds', { dropped });
      if (this.#serving !== undefined) this.#scheduleExpire();
    }, this.#opts.expireEveryMs ?? SEQUENCER_DEFAULTS.expireEveryMs);
  }

  async #stopServing(): Promise<void> {
    this.#serveWait?.abort();
    await this.#starting;
    this.#expireTimer?.cancel();
    const serving = this.#serving;
    this.#serving = undefined;
    this.#metrics.serving.set(0);
    if (serving === undefined) return;
    await serving.server.stop();
    this.#log.info('sequencer stopped serving', { treeSize: serving.sequencer.size });
  }

  async #lose(): Promise<void> {
    await this.#stopServing();
    this.#end('lost the Lease: another replica serves now');
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // Stop serving before the Lease is released, so two replicas never serve at once.
    await this.#stopServing();
    await this.#elector?.stop();
    await this.#informer.stop();
    await this.#health.stop();
  }
}
