/**
 * A partner operator's partner exchange (`threatmesh operator --exchange`): replicates the
 * sequencer's log into MongoDB and ThreatIndicators, forwards local proposals, votes
 * automatically, mirrors pending rounds and sends analysts' annotated votes (manualvote.ts,
 * docs/voting.md), proposes the revocations analysts annotate (revocations.ts), gossips tree heads with peers, repairs drift and reports all of it on the
 * PartnerNodes of the exchange namespace. Every dependency is injected; `startPartnerService` runs the
 * loops until `stop()`. A halt (fork, forged entry…) stops applying from the sequencer, never
 * the operator: it shows as condition Replicating=False, a Warning Event and a metric. What it is
 * built from is in serviceoptions.ts; the sequencer PartnerNode's status in sequencerstatus.ts.
 */
import { PARTNER_NODES } from '../../api/schemas/index.ts';
import type { PartnerNode } from '../../api/types.ts';
import { listFrom } from '../../runtime/client.ts';
import { sleep, systemClock, type Clock } from '../../runtime/clock.ts';
import { KubeEventRecorder } from '../../runtime/events.ts';
import { MongoCursorStore } from '../../store/cursor.ts';
import { MongoIndicatorSink } from '../../store/indicators.ts';
import { MongoLeafStore } from '../../store/leaves.ts';
import { ExchangeClient } from '../protocol/client.ts';
import { FailureReporter, type Callee } from './failures.ts';
import { PartnerMetrics } from './metrics.ts';
import { partnerNetwork, type PartnerNetwork, type SequencerRef } from './network.ts';
import { PeerStatusReporter } from './peerstatus.ts';
import { IncidentReporter } from './incidents.ts';
import { SequencerStatusReporter } from './sequencerstatus.ts';
import type { PartnerServiceOptions, RunningPartner } from './serviceoptions.ts';
import { PartnerSession } from './session.ts';
import { KubePartnerStatus, REPLICATING_REASON, type ReplicatingCondition } from './status.ts';
import { ProposalForwarder } from './forwarder.ts';
import { GossipClient, startGossipServer, type GossipServer } from './gossip.ts';
import { KubeIndicatorSink } from './kubesink.ts';
import { Materializer } from './materializer.ts';
import { repairWaitMs, repairWorkingSet, resumeWorkingSet, saveWrittenMark } from './workingset.ts';
import { PendingMirror } from './manualvote.ts';
import { RepeatedFailureLog } from '../../runtime/repeatlog.ts';
import { openStoresAlone } from './prepare.ts';
import { RevocationRequests } from './revocations.ts';
import type { ReplicationHalted } from './replica.ts';
import type { EntrySink, VerifiedEntry } from '../../domain/stores.ts';
import { roundJudge } from './policy.ts';
import type { PartnerEntry } from '../protocol/tls.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';
import { createValidators, validatorFor } from '../../api/validate.ts';
import { MongoReceivedSightings } from '../../store/receivedsightings.ts';
import { SightedParties } from './sighted.ts';
import { DecisionWatch, roundKey, type AppliedHead } from './decisions.ts';
import { loggedRounds } from '../../store/decisions.ts';

/** Collection of the verified entries the cluster refused to store (`_id` = log index). */
export { UNMATERIALIZED } from './workingset.ts';

/** Starts the partner exchange: opens the stores, serves gossip, and runs the sync loop until stopped. */
export async function startPartnerService(opts: PartnerServiceOptions): Promise<RunningPartner> {
  // The recent record states cover the working set's floor with a quarter to spare (the floor follows the tree size, which may run ahead of the applied entries).
  const budget = opts.materializeBudget ?? PARTNER_DEFAULTS.materializeBudget;
  const partner = new Partner(opts, opts.sink ?? await openStoresAlone(opts.db, Math.ceil(budget * 1.25), opts.log));
  await (opts.steps ? opts.steps.run('gossip endpoint', () => partner.start()) : partner.start());
  return partner;
}

class Partner implements RunningPartner {
  readonly #o: PartnerServiceOptions;
  readonly #clock: Clock;
  readonly #metrics: PartnerMetrics;
  readonly #cursors: MongoCursorStore;
  readonly #leaves: MongoLeafStore;
  readonly #mongo: MongoIndicatorSink;
  readonly #kube: KubeIndicatorSink;
  readonly #materializer: Materializer;
  readonly #status: KubePartnerStatus;
  readonly #events: KubeEventRecorder;
  readonly #peers: PeerStatusReporter;
  readonly #sequencerStatus: SequencerStatusReporter;
  readonly #incidents: IncidentReporter;
  readonly #failures: FailureReporter;
  readonly #failureLog: RepeatedFailureLog;
  readonly #forwarder: ProposalForwarder;
  readonly #decisions: DecisionWatch;
  readonly #validator = validatorFor(createValidators(), 'PartnerNode');
  #skippedSeen = '';
  readonly #abort = new AbortController();
  readonly #abandon = new AbortController();
  #gossip: GossipServer | undefined;
  #loop: Promise<void> = Promise.resolve();
  #network: PartnerNetwork | undefined;
  #session: PartnerSession | undefined;
  #mirror: PendingMirror | undefined;
  #revocations: RevocationRequests | undefined;
  #lastRepair: number | undefined;
  #repairFailures = 0;
  #problem: string | undefined;
  #sessionPrint: string | undefined;
  #haltCondition: ReplicatingCondition | undefined;
  #sighted: SightedParties | undefined;
  #resumed = false;
  // Saves of the working set's written position, in order; stop() waits for the last.
  #markSaved: Promise<void> = Promise.resolve();

  constructor(opts: PartnerServiceOptions, mongo: MongoIndicatorSink) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    const now = (): Date => new Date(this.#clock.now());
    this.#metrics = opts.exchangeMetrics ?? new PartnerMetrics(opts.metrics);
    this.#failures = new FailureReporter(this.#metrics);
    this.#failureLog = new RepeatedFailureLog(opts.log, () => this.#clock.now());
    this.#cursors = new MongoCursorStore(opts.db);
    this.#leaves = new MongoLeafStore(opts.db);
    this.#mongo = mongo;
    this.#kube = new KubeIndicatorSink({ onUnmaterialized: (entry, why) => void this.#step('unmaterialized entry report', () => this.#onUnmaterialized(entry, why)), client: opts.client, ...(opts.cache ? { cache: opts.cache.threatIndicators } : {}), namespace: opts.namespace, voters: () => opts.registry.voters(), ...(opts.admission ? { policy: opts.admission } : {}), now, log: opts.log });
    this.#materializer = new Materializer({
      sink: this.#kube, budget: opts.materializeBudget ?? PARTNER_DEFAULTS.materializeBudget, log: opts.log,
      onFailed: (err) => {
        const f = this.#failures.failed('working set', err);
        opts.log.error('writing replicated ThreatIndicators to the cluster failing; retrying with backoff', { cause: f.cause, detail: f.message });
      },
      onRecovered: () => this.#failures.recovered('working set'),
      // A failed save costs a larger resume after a restart, never an object: logged, not retried.
      onWritten: (n) => {
        this.#markSaved = this.#markSaved.then(() => saveWrittenMark(opts.db, n)).catch((err: unknown) => opts.log.warn('could not save the working set\'s written position; a restart rewrites more', { nextIndex: n, err }));
      },
    });
    this.#status = new KubePartnerStatus(opts.client, now, opts.cache?.partnerNodes);
    this.#events = new KubeEventRecorder({ writer: opts.client, log: opts.log, component: 'threatmesh-exchange', instance: opts.partnerId, now });
    this.#peers = new PeerStatusReporter({ status: this.#status, events: this.#events, metrics: this.#metrics, now });
    this.#sequencerStatus = new SequencerStatusReporter({
      status: this.#status, events: this.#events, metrics: this.#metrics, failures: this.#failures, log: opts.log, now,
      maxHeadAgeMs: opts.maxHeadAgeMs ?? PARTNER_DEFAULTS.maxHeadAgeMs,
      haltCondition: () => this.#haltCondition,
      onMisbehaviour: (seq, reason, message) => this.#onMisbehaviour(seq, reason, message),
      step: (name, fn) => void this.#step(name, fn),
    });
    this.#incidents = new IncidentReporter({ db: opts.db, status: this.#status, events: this.#events, metrics: this.#metrics, log: opts.log, now });
    const rule = opts.votingPolicy.sightingCorroboration;
    if (rule !== undefined) {
      const store = MongoReceivedSightings.reader(opts.db);
      this.#sighted = new SightedParties({ load: (since) => store.partiesSince(since, opts.partnerId), withinMs: rule.withinMs, now });
    }
    this.#decisions = new DecisionWatch({
      graceMs: opts.decisionGraceMs ?? PARTNER_DEFAULTS.decisionGraceMs,
      lookup: async (rounds) => new Set((await loggedRounds(opts.db, rounds.map((r) => r.digest))).map((r) => roundKey(r.digest, r.opensAt))),
    });
    this.#forwarder = new ProposalForwarder({ client: opts.client, ...(opts.cache ? { cache: opts.cache.threatIndicators } : {}), namespace: opts.namespace, partnerId: opts.partnerId, proposerKey: opts.key.publicKey, log: opts.log, onForwarded: (n) => this.#metrics.forwarded.inc(n), onOversize: (_name, err) => void this.#failures.failed('proposal forwarding', err) });
  }

  get gossipPort(): number {
    return this.#gossip?.port ?? 0;
  }

  async start(): Promise<void> {
    const directory = (): ReadonlyMap<string, PartnerEntry> => new Map((this.#network?.partners ?? []).map((p) => [p.partnerId, p]));
    this.#gossip = await startGossipServer({
      partnerId: this.#o.partnerId, directory, tls: this.#o.tls, address: `${this.#o.gossipBind.host}:${this.#o.gossipBind.port}`, log: this.#o.log,
      acceptedHead: async () => (this.#session ? (await this.#session.replica.cursor()).head : undefined),
      consistencyProof: (a, b) => (this.#session ? this.#session.replica.consistencyProofFromLeaves(a, b) : Promise.reject(new Error('not replicating yet'))),
    });
    const gossip = this.#gossip;
    this.#metrics.gossipEndpoint(() => gossip.peerIdentities());
    this.#metrics.liveTail(() => this.#session?.tailStats());
    this.#o.log.info('partner exchange started', { partnerId: this.#o.partnerId, namespace: this.#o.namespace, gossipPort: this.#gossip.port });
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#session?.stop();
    this.#session = undefined;
    await this.#materializer.stop();
    await this.#markSaved;
    await this.#gossip?.stop();
    this.#metrics.gossipEndpoint(undefined);
    this.#metrics.liveTail(undefined);
    this.#o.log.info('partner exchange stopped', { partnerId: this.#o.partnerId });
  }

  #now(): Date {
    return new Date(this.#clock.now());
  }

  interrupt(): void {
    this.#abandon.abort();
  }

  async #run(): Promise<void> {
    const abandoned = new Promise<void>((resolve) => this.#abandon.signal.addEventListener('abort', () => resolve(), { once: true }));
    while (!this.#abort.signal.aborted) {
      await Promise.race([this.#step('sync', () => this.#tick()), abandoned]);
      await sleep(this.#clock, this.#o.syncIntervalMs ?? PARTNER_DEFAULTS.syncIntervalMs, this.#abort.signal);
    }
  }

  // `callee` names the peer a step calls, so its failure is not blamed on the sequencer.
  async #step(name: string, fn: () => Promise<unknown>, callee?: Callee): Promise<void> {
    // After stop() no step starts: each could wait out the database's server selection (a stop took 43 s with its database killed).
    if (this.#abort.signal.aborted) return;
    const key = callee === undefined ? name : `${name} ${callee.peer}`;
    const peer = callee !== undefined ? { peer: callee.peer } : {};
    try {
      await fn();
      this.#failureLog.recovered(key, `exchange ${name} works again`, peer);
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const f = this.#failures.failed(name, err, callee);
      // Once per cause change, then a reminder every few minutes (runtime/repeatlog.ts): a peer down for an hour is not 3,600 lines.
      this.#failureLog.failed(key, f.cause, `exchange ${name} failed; retrying next period`, { cause: f.cause, detail: f.message, ...peer, err });
    }
  }

  async #tick(): Promise<void> {
    const nodes = await listFrom<PartnerNode>(this.#o.cache?.partnerNodes, this.#o.client, PARTNER_NODES, { namespace: this.#o.namespace });
    const network = partnerNetwork(nodes, this.#o.partnerId, this.#o.namespace, this.#validator);
    this.#reportSkipped(network);
    this.#network = network;
    if (network.sequencer === undefined) {
      await this.#noSequencer(network, nodes);
      return;
    }
    if (!this.#resumed) await this.#step('working set resume', () => this.#resume(network.sequencer!));
    const session = await this.#ensureSession(network as PartnerNetwork & { sequencer: SequencerRef });
    const seq = network.sequencer;
    const seqSize = await this.#sequencerStatus.report(session, seq);
    await this.#step('missing decisions', () => this.#checkDecisions(session, seq));
    await this.#step('proposal forwarding', () => this.#forwarder.forwardOnce(session.client));
    await this.#step('revocation requests', () => this.#revocations!.syncOnce());
    if (network.partners.some((p) => p.partnerId === this.#o.partnerId && p.roles.includes('voter'))) {
      if (this.#sighted !== undefined) await this.#step('sighting counts', () => this.#sighted!.refresh());
      await this.#step('voting', () => session.voter.voteOnce());
      await this.#step('pending mirror and annotated votes', () => this.#mirror!.syncOnce());
    }
    for (const peer of network.peers) await this.#step('gossip', () => this.#peers.report(session, peer), { peer: peer.spec.partnerId });
    await this.#step('drift repair', () => this.#repairWhenDue(session, seqSize));
  }

  // Each set of PartnerNodes left out is logged once, when it changes.
  #reportSkipped(network: PartnerNetwork): void {
    const seen = JSON.stringify(network.skipped);
    if (seen === this.#skippedSeen) return;
    this.#skippedSeen = seen;
    for (const s of network.skipped) this.#o.log.warn('PartnerNode left out of the directory', { namespace: this.#o.namespace, name: s.name, reason: s.reason });
  }

  async #noSequencer(network: PartnerNetwork, nodes: readonly PartnerNode[]): Promise<void> {
    if (this.#problem !== network.problem) this.#o.log.warn('partner exchange waiting for a sequencer PartnerNode', { problem: network.problem });
    this.#problem = network.problem;
    await this.#session?.stop();
    this.#session = undefined;
    const condition: ReplicatingCondition = { status: 'False', reason: REPLICATING_REASON.NoSequencer, message: network.problem ?? 'no sequencer' };
    for (const pn of nodes.filter((n) => n.spec.roles.includes('sequencer'))) await this.#status.write(pn, {}, condition);
  }

  async #ensureSession(network: PartnerNetwork & { sequencer: SequencerRef }): Promise<PartnerSession> {
    // A period left behind by interrupt() must not start a session once stop() has run.
    if (this.#abort.signal.aborted) throw new Error('partner exchange stopping');
    this.#problem = undefined;
    if (this.#session !== undefined && this.#sessionPrint === network.fingerprint) return this.#session;
    await this.#session?.stop();
    // The old session's failure ends with it (a new endpoint or certificate): the new one reports its own.
    this.#failures.recovered('replication');
    const o = this.#o;
    const misbehaviour = (reason: string, message: string): void => void this.#step('misbehaviour report', () => this.#onMisbehaviour(network.sequencer, reason, message));
    const judge = roundJudge(o.votingPolicy, {
      ...(o.warningList ? { warningList: o.warningList } : {}),
      corroborated: (digest) => this.#forwarder.ownDigests().has(digest),
      sightedBy: (digest) => this.#sighted?.count(digest) ?? 0,
    });
    const session = new PartnerSession({
      network, partnerId: o.partnerId, key: o.key, tls: o.tls, cursors: this.#cursors, sink: this.#sink(), judge,
      ...(o.admission?.quorum !== undefined ? { quorum: o.admission.quorum } : {}),
      ...(o.admission?.votingWindowMs !== undefined ? { votingWindowMs: o.admission.votingWindowMs } : {}),
      history: this.#mongo,
      leaves: this.#leaves,
      now: () => this.#now(), log: o.log,
      sequencerClient: o.sequencerClient ?? ((c) => new ExchangeClient(c)),
      peerClient: o.peerClient ?? ((c) => new GossipClient(c)),
      onHalt: (err, peer) => void this.#step('halt report', () => this.#onHalt(err, network.sequencer, peer)),
      onVote: (v) => this.#metrics.votes.inc({ decision: v.decision }),
      onVoted: (round, v, result) => this.#decisions.voted(round, v, result, this.#now()),
      onMisbehaviour: misbehaviour,
      ...batchingOf(o.voteBatchSize),
      onSyncFailure: (err) => {
        // A stopped session's last failure (its own stop) says nothing about the current one.
        if (this.#session !== session) return;
        const f = this.#failures.failed('replication', err);
        o.log.error('replication from the sequencer failing; retrying with backoff', { cause: f.cause, detail: f.message });
      },
      onSyncRecovered: () => { if (this.#session === session) this.#failures.recovered(); },
      ...(o.waitMs !== undefined ? { waitMs: o.waitMs } : {}),
    });
    this.#session = session;
    this.#mirror = new PendingMirror({ client: o.client, ...(o.cache ? { cache: o.cache.threatIndicators } : {}), namespace: o.namespace, sequencer: session.client, partnerId: o.partnerId, key: o.key, partners: () => network.partners, now: () => this.#now(), log: o.log, skip: (round) => session.voter.hasVoted(round.subject), onMisbehaviour: misbehaviour, onVoted: (round, v, result) => this.#decisions.voted(round, v, result, this.#now()) });
    const isVoter = (): boolean => this.#network?.partners.some((p) => p.partnerId === o.partnerId && p.roles.includes('voter')) === true;
    this.#revocations = new RevocationRequests({ client: o.client, ...(o.cache ? { cache: o.cache.threatIndicators } : {}), namespace: o.namespace, sequencer: session.client, partnerId: o.partnerId, key: o.key, isVoter, now: () => this.#now(), log: o.log, onMisbehaviour: misbehaviour });
    this.#sessionPrint = network.fingerprint;
    this.#lastRepair = undefined;
    this.#haltCondition = undefined;
    o.log.info('replicating from the sequencer', { sequencer: network.sequencer.partnerId, endpoint: network.sequencer.endpoint, partners: network.partners.length });
    session.start();
    return session;
  }

  #sink(): EntrySink {
    const mongo = this.#mongo;
    const applied = this.#metrics.applied;
    // The log size seen after the previous batch: lets a catch-up skip recording record states drift repair will never read.
    let treeSize = 0;
    const applyMany = async (entries: readonly VerifiedEntry[]): Promise<void> => {
      // MongoDB is the replica; the cluster's working set follows in the background (materializer.ts).
      await mongo.applyMany(entries, { treeSize });
      applied.inc(entries.length);
      treeSize = (await this.#session?.replica.cursor())?.head?.treeSize ?? 0;
      // A REJECT is a record of the partner database only: never an object in the cluster.
      this.#materializer.offer(entries.filter((e) => e.kind !== 'reject'), treeSize);
    };
    return { apply: (e) => applyMany([e]), applyMany };
  }


  // Rounds this partner voted on whose decision a head it has applied in full should carry (decisions.ts).
  async #checkDecisions(session: PartnerSession, seq: SequencerRef): Promise<void> {
    if (session.halted !== undefined || this.#decisions.size === 0) return;
    const cursor = await session.replica.cursor();
    const fresh = this.#sequencerStatus.newestHead;
    const head: AppliedHead | undefined = fresh !== undefined && fresh.treeSize <= cursor.nextIndex ? fresh
      : cursor.head !== undefined && cursor.head.treeSize <= cursor.nextIndex ? cursor.head : undefined;
    for (const m of await this.#decisions.check(head)) await this.#incidents.missingDecision(seq, m);
  }

  // Once per process, before replication starts: what an earlier process applied but may not have written to the cluster.
  async #resume(seq: SequencerRef): Promise<void> {
    const cursor = await this.#cursors.load(`sequencer:${seq.partnerId}`);
    const treeSize = cursor?.head?.treeSize ?? cursor?.nextIndex ?? 0;
    await resumeWorkingSet({ db: this.#o.db, mongo: this.#mongo, materializer: this.#materializer, log: this.#o.log, treeSize, budget: this.#o.materializeBudget ?? PARTNER_DEFAULTS.materializeBudget });
    this.#resumed = true;
  }

  async #repairWhenDue(session: PartnerSession, seqSize: number | undefined): Promise<void> {
    // A repair starts once the working set is written: waiting for it here would hold every other
    // step of the loop (and stop()) for as long as the cluster refuses writes.
    if (session.halted !== undefined || seqSize === undefined || this.#materializer.busy) return;
    const now = this.#clock.now();
    if (this.#lastRepair === undefined) {
      // The first repair waits for the first catch-up, so it does not race the initial replication.
      if ((await session.replica.cursor()).nextIndex < seqSize) return;
    } else if (now - this.#lastRepair < this.#repairWait()) {
      return;
    }
    this.#lastRepair = now;
    try {
      await repairWorkingSet({ client: this.#o.client, ...(this.#o.cache ? { cache: this.#o.cache.threatIndicators } : {}), namespace: this.#o.namespace, materializer: this.#materializer, kube: this.#kube, mongo: this.#mongo, log: this.#o.log }, this.#abort.signal);
      this.#repairFailures = 0;
    } catch (err) {
      this.#repairFailures++;
      throw err;
    }
  }

  #repairWait(): number {
    return repairWaitMs(this.#repairFailures, this.#o.repairIntervalMs ?? PARTNER_DEFAULTS.repairIntervalMs, PARTNER_DEFAULTS.repairRetryMs);
  }

  async #onUnmaterialized(entry: VerifiedEntry, why: string): Promise<void> {
    await this.#incidents.unmaterialized(entry, why, this.#session?.sequencerNode);
  }

  async #onMisbehaviour(seq: SequencerRef, reason: string, message: string): Promise<void> {
    await this.#incidents.misbehaviour(seq, reason, message);
  }

  async #onHalt(err: ReplicationHalted, seq: SequencerRef, peer: PartnerNode | undefined): Promise<void> {
    this.#haltCondition = this.#incidents.halt(err, peer);
    await this.#incidents.reportHalt(this.#haltCondition, seq, peer);
  }
}

// --vote-batch-size: 0 (or none) signs each vote alone (protocol v1); more, protocol v2 batches of at most that many.
function batchingOf(size: number | undefined): { readonly batching?: { readonly maxSize: number } } {
  return size !== undefined && size > 0 ? { batching: { maxSize: size } } : {};
}
