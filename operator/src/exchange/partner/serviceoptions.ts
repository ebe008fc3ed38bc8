/**
 * What a partner exchange is built from (the options of startPartnerService, service.ts) and what
 * a running one offers its process. Split from service.ts, which runs the exchange.
 */
import type { Db } from 'mongodb';
import type { Registry } from 'prom-client';
import type { PartnerNode, ThreatIndicator } from '../../api/types.ts';
import type { AdmissionPolicy } from '../../api/admission.ts';
import type { VoterRegistry } from '../../api/partners.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { WarningList } from '../../feeds/warninglists.ts';
import type { Logger } from '../../log.ts';
import type { KubeClient } from '../../runtime/client.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { CacheReader } from '../../runtime/types.ts';
import type { MongoIndicatorSink } from '../../store/indicators.ts';
import type { TlsMaterial } from '../protocol/tls.ts';
import type { PartnerMetrics } from './metrics.ts';
import type { StartSteps } from './prepare.ts';
import type { PeerClientFactory, SequencerClientFactory } from './session.ts';
import type { VotingPolicy } from './policy.ts';

/** Everything the partner exchange is built from. */
export interface PartnerServiceOptions {
  readonly client: KubeClient;
  /**
   * The operator's informers of ThreatIndicators and PartnerNodes: every periodic read (the
   * directory, local proposals, annotations, status before a write, drift repair) comes from
   * their caches instead of the API server. @default none (list from the API server; tests)
   */
  readonly cache?: PartnerCaches;
  readonly db: Db;
  /** Where PartnerNodes are read and replicated ThreatIndicators written. */
  readonly namespace: string;
  readonly partnerId: string;
  readonly key: SigningKey;
  readonly tls: TlsMaterial;
  readonly votingPolicy: VotingPolicy;
  /** Warning lists the voting policy consults; without them a policy with warningLists abstains. */
  readonly warningList?: WarningList;
  /** The operator's voter registry (the ThreatIndicator controller reads the same one). */
  readonly registry: VoterRegistry;
  /** The controller's admission policy, so replicated objects get the phase it computes. */
  readonly admission?: AdmissionPolicy;
  readonly metrics: Registry;
  readonly log: Logger;
  /** host:port of the gossip endpoint; port 0 picks a free one. */
  readonly gossipBind: { readonly host: string; readonly port: number };
  /** Status, gossip, forwarding and voting period. @default PARTNER_DEFAULTS.syncIntervalMs */
  readonly syncIntervalMs?: number;
  /** Drift repair period. @default PARTNER_DEFAULTS.repairIntervalMs */
  readonly repairIntervalMs?: number;
  readonly clock?: Clock;
  /** @default ExchangeClient */
  readonly sequencerClient?: SequencerClientFactory;
  /** @default GossipClient */
  readonly peerClient?: PeerClientFactory;
  /** Long-poll of each replica sync. @default PARTNER_DEFAULTS.waitMs */
  readonly waitMs?: number;
  /** Oldest the newest signed tree head may be before HeadFresh turns False. @default PARTNER_DEFAULTS.maxHeadAgeMs */
  readonly maxHeadAgeMs?: number;
  /** Time a decided round may take to appear in a signed tree head before it is reported missing. @default PARTNER_DEFAULTS.decisionGraceMs */
  readonly decisionGraceMs?: number;
  /** Most recent log positions kept as ThreatIndicator objects. @default PARTNER_DEFAULTS.materializeBudget */
  readonly materializeBudget?: number;
  /** Most votes under one batch root (protocol v2, voter.ts VoteBatching); 0 signs each vote alone (protocol v1). @default 0 */
  readonly voteBatchSize?: number;
  /** The exchange's metrics when already registered on `metrics` (startup.ts reports failed starts with them). @default new PartnerMetrics(metrics) */
  readonly exchangeMetrics?: PartnerMetrics;
  /**
   * The replica store opened on `db` by the process's preparation (prepare.ts), which also names
   * unnamed records; kept across terms. @default opened here, and the naming pass started here
   */
  readonly sink?: MongoIndicatorSink;
  /** The start's steps, for readiness (prepare.ts): the gossip endpoint is this term's. @default untracked */
  readonly steps?: StartSteps;
}

/** The operator's caches the partner exchange reads. */
export interface PartnerCaches {
  readonly threatIndicators: CacheReader<ThreatIndicator>;
  readonly partnerNodes: CacheReader<PartnerNode>;
}

/** A running partner exchange. */
export interface RunningPartner {
  /** The gossip endpoint's port. */
  readonly gossipPort: number;
  /** Stops every loop, closes channels and the gossip endpoint. */
  stop(): Promise<void>;
  /**
   * Lets a stop under way stop waiting for the sync period in flight (stuck on a database that
   * stopped answering); nothing starts after stop, and that period ends on its own.
   */
  interrupt(): void;
}
