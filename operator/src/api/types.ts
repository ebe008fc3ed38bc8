/**
 * TypeScript shapes of the ThreatMesh objects, mirroring the JSON Schemas in schemas/. Objects
 * from the API server are checked against the schema (validate.ts) before these types are trusted.
 */
import type { Condition, KubeObject } from '../runtime/types.ts';
import type { IndicatorType } from '../domain/indicator.ts';

/** Indicator types, as in the CRD enum. */
export type IndicatorTypeName = IndicatorType;
/** TLP 2.0 marking. */
export type Tlp = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';
/** Indicator lifecycle phase. */
export type Phase = 'Proposed' | 'Approved' | 'Rejected' | 'Expired' | 'Revoked';

/** A ThreatIndicator's immutable spec. */
export interface ThreatIndicatorSpec {
  type: IndicatorTypeName;
  value: string;
  pattern?: string;
  confidence?: number;
  tlp?: Tlp;
  labels?: string[];
  validFrom?: string;
  validUntil?: string;
  provenance?: { feed?: string; partner?: string; proposedAt?: string };
  proposal?: { partnerId: string; signature: string };
}

/** One signed vote recorded in a ThreatIndicator's status. */
export interface VoteRecord {
  partnerId: string;
  decision: 'approve' | 'reject';
  reason?: string;
  signedAt: string;
  signature: string;
}

/**
 * The certificate of a REVOKE log entry as a ThreatIndicator carries it: the proposer's signature
 * (kind `revocation` over exchange/entry.ts revocationPayload) and the revoke votes, signed on
 * voteSubject('revoke', digest) inside `window`.
 */
export interface RevocationRecord {
  logIndex: number;
  proposerId: string;
  signature: string;
  window: { opensAt: string; closesAt: string };
  votes: VoteRecord[];
}

/** A ThreatIndicator's status. */
export interface ThreatIndicatorStatus {
  phase?: Phase;
  votes?: VoteRecord[];
  quorum?: { required?: number; approvals?: number; rejections?: number; summary?: string };
  logIndex?: number;
  revocation?: RevocationRecord;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** A ThreatIndicator object. */
export interface ThreatIndicator extends KubeObject {
  spec: ThreatIndicatorSpec;
  status?: ThreatIndicatorStatus;
}

/** Where one record field comes from. */
export interface FieldSelector {
  column?: string;
  index?: number;
  jsonPath?: string;
}

/** How records map to indicators. */
export interface FeedMapping {
  delimiter?: string;
  header?: boolean;
  comment?: string;
  skipLines?: number;
  itemsPath?: string;
  value?: FieldSelector;
  type?: FieldSelector;
  typeMap?: Record<string, string>;
  fields?: Record<string, FieldSelector>;
}

/** Feed formats. */
export type FeedFormat = 'csv' | 'lines' | 'json' | 'jsonl' | 'stix' | 'misp' | 'taxii';

/** One extra allowlist of a Feed: a ConfigMap in the Feed's namespace. */
export interface FeedAllowlist {
  configMapRef: { name: string; key?: string };
}

/** A Feed's spec. */
export interface FeedSpec {
  url?: string;
  taxii?: { discoveryUrl: string; apiRoot?: string; collection: string };
  format: FeedFormat;
  preset?: string;
  mapping?: FeedMapping;
  secretRef?: { name: string; key?: string };
  /** Extra allowlists, each a ConfigMap in the Feed's namespace (every key, or one). */
  allowlists?: FeedAllowlist[];
  schedule: { interval?: string; cron?: string };
  defaults?: { type?: IndicatorTypeName; confidence?: number; tlp?: Tlp; labels?: string[]; validFor?: string };
  limits?: { maxBytes?: number; timeoutSeconds?: number };
  suspend?: boolean;
  historyLimits?: { successful?: number; failed?: number };
}

/** Counts of one ingestion run. */
export interface RunCounts {
  fetched: number;
  new: number;
  duplicate: number;
  rejected: number;
  rejectedReasons?: Record<string, number>;
}

/** One run as recorded in Feed status. */
export interface FeedRunStatus {
  runId?: string;
  jobName?: string;
  startTime?: string;
  completionTime?: string;
  outcome?: 'Running' | 'Succeeded' | 'Failed';
  counts?: RunCounts;
  summary?: string;
  message?: string;
}

/** A Feed's status. */
export interface FeedStatus {
  schedule?: string;
  lastRun?: FeedRunStatus;
  activeRun?: FeedRunStatus;
  nextRun?: string;
  consecutiveFailures?: number;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** A Feed object. */
export interface Feed extends KubeObject {
  spec: FeedSpec;
  status?: FeedStatus;
}

/** Partner roles; `sequencer` marks the network's sequencer (tree-head key, sequencer endpoint), never a voter. */
export type Role = 'contributor' | 'voter' | 'consumer' | 'sequencer';

/** A PartnerNode's spec. */
export interface PartnerNodeSpec {
  partnerId: string;
  organization: string;
  endpoint: string;
  publicKey: string;
  tls?: { caSecretRef?: { name: string; key?: string }; pinnedCertSha256?: string };
  roles: Role[];
  maxTlp?: Tlp;
}

/** A PartnerNode's status. */
export interface PartnerNodeStatus {
  reachable?: boolean;
  lastSeen?: string;
  logSize?: number;
  rootHash?: string;
  lagEntries?: number;
  lagSeconds?: number;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** A PartnerNode object. */
export interface PartnerNode extends KubeObject {
  spec: PartnerNodeSpec;
  status?: PartnerNodeStatus;
}

/** Structured-output form of a ThreatReport's model requests. */
export type ResponseFormat = 'auto' | 'json_schema' | 'json_object';

/** The model endpoint of a ThreatReport. */
export interface ThreatReportModel {
  baseUrl: string;
  model: string;
  apiKeySecretRef?: { name: string; key?: string };
  maxTlp?: Tlp;
  timeoutSeconds?: number;
  maxTokens?: number;
  responseFormat?: ResponseFormat;
  citationEnum?: boolean;
  regenerations?: number;
}

/** A ThreatReport's spec. */
export interface ThreatReportSpec {
  schedule: string;
  window?: string;
  audience: { maxTlp: Tlp };
  model?: ThreatReportModel;
  selection?: { tokenBudget?: number; maxIndicators?: number };
  configMapName?: string;
  suspend?: boolean;
}

/** One run of a ThreatReport as its status records it. */
export interface ThreatReportRun {
  reportId?: string;
  startTime?: string;
  completionTime?: string;
  outcome?: 'Succeeded' | 'Failed';
  generator?: 'model' | 'extractive';
  headline?: string;
  citations?: number;
  offered?: number;
  attempts?: number;
  fallbackReason?: string;
  message?: string;
}

/** A ThreatReport's status. */
export interface ThreatReportStatus {
  lastRun?: ThreatReportRun;
  nextRun?: string;
  consecutiveFailures?: number;
  configMap?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** A ThreatReport object. */
export interface ThreatReport extends KubeObject {
  spec: ThreatReportSpec;
  status?: ThreatReportStatus;
}
