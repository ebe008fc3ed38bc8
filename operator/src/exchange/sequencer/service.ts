/**
 * The sequencer as a long-running service (`threatmesh sequencer`): the partner directory is
 * read live from the PartnerNodes of one namespace, and — only while this replica holds the
 * Lease, when leader election is on — the {@link Sequencer} is opened from MongoDB and served
 * over gRPC with mutual TLS. Rounds whose window closed are expired periodically. Metrics and
 * health (/metrics, /healthz, /readyz: ready only while serving) are served on their own port.
 * Every dependency (Kubernetes client, database, keys, TLS material, logger, clock) is passed in.
 */
import type { Db } from 'mongodb';
import { Counter, Gauge } from 'prom-client';
import { PARTNER_NODES } from '../../api/schemas/index.ts';
import type { PartnerNode } from '../../api/types.ts';
import { createValidators, validatorFor, type KindValidator } from '../../api/validate.ts';
import { partnerEntry } from '../../api/partners.ts';
import type { PartnerRole } from '../../domain/quorum.ts';
import type { PublicKey, SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import type { KubeReader, KubeWriter } from '../../runtime/client.ts';
import { sleep, systemClock, type Clock, type TimerHandle } from '../../runtime/clock.ts';
import { HealthServer } from '../../runtime/health.ts';
import { Informer, objectKey } from '../../runtime/informer.ts';
import { LeaderElector } from '../../runtime/leader.ts';
import type { ManagerLeaderElection } from '../../runtime/manager.ts';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import { MongoLogStore } from '../../store/log.ts';
import { MongoRoundStore } from '../../store/rounds.ts';
import { Sequencer, type SequencerObserver } from './sequencer.ts';
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
  /** How long a round accepts votes. */
  readonly windowMs: number;
  /** How often rounds whose window closed are dropped. @default 30000 */
  readonly expireEveryMs?: number;
  /** How long to wait for the first list of PartnerNodes. @default 30000 */
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

/** A PartnerNode left out of the directory, and why. */
export interface SkippedPartner {
  readonly name: string;
  readonly reason: string;
}

/** The directory the sequencer serves, derived from the PartnerNodes of its namespace. */
export interface SequencerDirectory {
  /** Partners allowed to call, by id order; the sequencer's own PartnerNode is never among them. */
  readonly partners: readonly PartnerEntry[];
  /** The public key published by the sequencer's own PartnerNode (role sequencer, partnerId = ours), when there is one. */
  readonly selfKey?: PublicKey;
  readonly skipped: readonly SkippedPartner[];
}

/** Name of the sequencer's Lease. */
export const SEQUENCER_LEASE_NAME = 'threatmesh-sequencer-leader';

const DEFAULT_EXPIRE_MS = 30_000;
const DEFAULT_SYNC_TIMEOUT_MS = 30_000;

/**
 * Derives the directory from PartnerNodes: objects that fail the schema or carry an unusable key
 * are skipped with the reason; a partner id claimed by PartnerNodes with different keys is
 * skipped entirely; PartnerNodes with role sequencer are never partners (the one named
 * `selfId` publishes this sequencer's key). Pure.
 */
export function sequencerDirectory(nodes: readonly PartnerNode[], selfId: string, validator: KindValidator): SequencerDirectory {
  const skipped: SkippedPartner[] = [];
  const byId = new Map<string, PartnerEntry[]>();
  let selfKey: PublicKey | undefined;
  for (const pn of [...nodes].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (pn.metadata.deletionTimestamp !== undefined) continue;
    const entry = usableEntry(pn, validator);
    if (typeof entry === 'string') {
      skipped.push({ name: pn.metadata.name, reason: entry });
    } else if ((pn.spec.roles as readonly string[]).includes('sequencer')) {
      if (pn.spec.partnerId === selfId) selfKey = entry.publicKey;
      else skipped.push({ name: pn.metadata.name, reason: `role sequencer with partnerId ${JSON.stringify(pn.spec.partnerId)}, but this sequencer is ${JSON.stringify(selfId)}; keep one sequencer PartnerNode` });
    } else {
      byId.set(entry.partnerId, [...(byId.get(entry.partnerId) ?? []), entry]);
    }
  }
  const partners: PartnerEntry[] = [];
  for (const [id, claims] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    if (claims.every((c) => c.publicKey.equals(claims[0]!.publicKey))) partners.push(claims[0]!);
    else skipped.push({ name: id, reason: `partner id ${JSON.stringify(id)} is claimed by ${claims.length} PartnerNodes with different public keys; delete or fix all but one` });
  }
  return { partners, skipped, ...(selfKey !== undefined ? { selfKey } : {}) };
}

function usableEntry(pn: PartnerNode, validator: KindValidator): PartnerEntry | string {
  const valid = validator.validate(pn);
  if (!valid.ok) return `invalid PartnerNode: ${valid.errors.join('; ')}`;
  const parsed = partnerEntry(objectKey(pn), pn);
  if (!parsed.ok) return parsed.message;
  const roles = parsed.entry.roles.filter((r): r is PartnerRole => (r as string) !== 'sequencer');
  const pin = pn.spec.tls?.pinnedCertSha256;
  return { partnerId: parsed.entry.partnerId, publicKey: parsed.entry.publicKey, roles, ...(pin !== undefined ? { certFingerprint256: fingerprintOfHex(pin) } : {}) };
}

/** `ab12…` (lower-case hex, as PartnerNodes pin it) → `AB:12:…` (as node reports certificate fingerprints). */
export function fingerprintOfHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

/** The service's metrics, on the registry of a {@link RuntimeMetrics} (which also carries leader_election_master_status). */
class SequencerMetrics {
  readonly runtime = new RuntimeMetrics();
  readonly serving: Gauge;
  readonly proposals: Counter<'status'>;
  readonly votes: Counter<'status'>;

  constructor(current: () => Sequencer | undefined) {
    const registers = [this.runtime.registry];
    const treeSize: Gauge = new Gauge({ name: 'threatmesh_sequencer_tree_size', help: 'Entries in the sequencer log (0 while not serving)', registers, collect: () => treeSize.set(current()?.size ?? 0) });
    const pending: Gauge = new Gauge({ name: 'threatmesh_sequencer_pending_rounds', help: 'Voting rounds waiting for votes (0 while not serving)', registers, collect: () => pending.set(current()?.pendingCount ?? 0) });
    this.serving = new Gauge({ name: 'threatmesh_sequencer_serving', help: '1 while this replica serves the exchange (it holds the Lease), else 0', registers });
    this.proposals = new Counter({ name: 'threatmesh_sequencer_proposals_total', help: 'Proposals answered, by status (opened, already-pending, already-admitted, refused, error)', labelNames: ['status'], registers });
    this.votes = new Counter({ name: 'threatmesh_sequencer_votes_total', help: 'Votes answered, by status (counted, approved, rejected, duplicate, refused, error)', labelNames: ['status'], registers });
  }

  observer(): SequencerObserver {
    return { proposal: (status) => this.proposals.inc({ status }), vote: (status) => this.votes.inc({ status }) };
  }
}

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
  readonly #metrics = new SequencerMetrics(() => this.#serving?.sequencer);
  readonly #informer: Informer<PartnerNode>;
  // Handed to the gRPC server, which reads it on every call: updated in place.
  readonly #directory = new Map<string, PartnerEntry>();
  readonly #health: HealthServer;
  #elector: LeaderElector | undefined;
  #serving: Serving | undefined;
  #starting: Promise<void> | undefined;
  #expireTimer: TimerHandle | undefined;
  #reported = new Set<string>();
  #stopping = false;
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
      readyChecks: [{ name: 'serving', check: () => (this.#serving !== undefined ? true : this.#elector !== undefined ? 'not serving: another replica holds the Lease, or this one is starting' : 'not serving yet') }],
    });
  }

  servingPort(): number | undefined {
    return this.#serving?.server.port;
  }

  async start(): Promise<void> {
    this.metricsPort = await this.#health.start();
    this.#log.info('serving metrics and health', { address: this.#opts.metricsBind.host, port: this.metricsPort });
    await this.#syncDirectory();
    const le = this.#opts.leaderElection;
    if (le === undefined) {
      await this.#serve();
      return;
    }
    this.#elector = new LeaderElector({
      client: this.#opts.kube, log: this.#log, metrics: this.#metrics.runtime, clock: this.#clock, ...le,
      onStartedLeading: () => {
        this.#starting = this.#serve().catch((err: unknown) => this.#end(`cannot serve after winning the Lease: ${err instanceof Error ? err.message : String(err)}`));
      },
      onStoppedLeading: () => {
        if (!this.#stopping) void this.#lose();
      },
    });
    this.#elector.start();
    this.#log.info('waiting for the Lease', { lease: le.name, namespace: le.namespace, identity: le.identity });
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
    const timeoutMs = this.#opts.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
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
      this.#log.error('the sequencer PartnerNode now publishes another public key than --signing-key; partners will refuse the tree heads until they match', { partnerId: this.#opts.partnerId });
    }
  }

  async #serve(): Promise<void> {
    const o = this.#opts;
    const now = (): Date => new Date(this.#clock.now());
    const sequencer = await Sequencer.open({
      store: await MongoLogStore.open(o.db), rounds: new MongoRoundStore(o.db), key: o.key, partners: [...this.#directory.values()],
      windowMs: o.windowMs, now, log: o.log.child({ component: 'sequencer' }), observer: this.#metrics.observer(), ...(o.quorum !== undefined ? { quorum: o.quorum } : {}),
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
    }, this.#opts.expireEveryMs ?? DEFAULT_EXPIRE_MS);
  }

  async #stopServing(): Promise<void> {
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
