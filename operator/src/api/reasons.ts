/**
 * Condition types, condition reasons and Event reasons of the three controllers, in one place
 * (CamelCase, as metav1.Condition requires). Dashboards and tests match on these strings.
 */

/** Condition types. */
export const CONDITION = {
  Ready: 'Ready',
  Degraded: 'Degraded',
  Running: 'Running',
  VotesVerified: 'VotesVerified',
} as const;

/** Reasons shared by every kind. */
export const REASON = {
  /** The spec failed schema or semantic validation; fix the spec. */
  InvalidSpec: 'InvalidSpec',
  Valid: 'Valid',
  // Feed
  Scheduled: 'Scheduled',
  Suspended: 'Suspended',
  RunStarted: 'RunStarted',
  RunSucceeded: 'RunSucceeded',
  RunFailed: 'RunFailed',
  RunLost: 'RunLost',
  RunsHealthy: 'RunsHealthy',
  NeverFires: 'NeverFires',
  // ThreatReport (also Scheduled, Suspended, RunSucceeded, RunFailed, RunsHealthy, NeverFires)
  /** A model is configured but the last report is extractive (model failed or every answer was refused). */
  ModelFallback: 'ModelFallback',
  // ThreatIndicator
  Approved: 'Approved',
  Rejected: 'Rejected',
  Expired: 'Expired',
  QuorumPending: 'QuorumPending',
  NoVoters: 'NoVoters',
  NotNormalized: 'NotNormalized',
  AllVotesVerified: 'AllVotesVerified',
  VotesIgnored: 'VotesIgnored',
  PhaseCorrected: 'PhaseCorrected',
  /** A REVOKE entry's certificate holds a quorum of revoke votes. */
  Revoked: 'Revoked',
  // PartnerNode
  InvalidPublicKey: 'InvalidPublicKey',
  DuplicatePartnerId: 'DuplicatePartnerId',
  VoterRegistered: 'VoterRegistered',
  PartnerRegistered: 'PartnerRegistered',
  SequencerRegistered: 'SequencerRegistered',
  InvalidRoles: 'InvalidRoles',
  // LogScan
  ScanPlanned: 'ScanPlanned',
  ScanRunning: 'ScanRunning',
  ScanSucceeded: 'ScanSucceeded',
  ScanFailed: 'ScanFailed',
  /** The LogScan's source cannot be listed or read (credentials, endpoint, path). */
  SourceUnreadable: 'SourceUnreadable',
} as const;

/** Finalizer the Feed controller puts on Feeds so an in-flight run is stopped before deletion. */
export const FEED_FINALIZER = 'threatmesh.io/feed-runs';
/** Label on every Job the Feed controller creates: the Feed's name. */
export const FEED_LABEL = 'threatmesh.io/feed';
/** Label on every Job: the run id. */
export const RUN_ID_LABEL = 'threatmesh.io/run-id';
/**
 * Annotation the `threatmesh ingest` Job sets on its own Job with the JSON RunReport (counts)
 * when it finishes, so the operator can record outcome counts without reading Pods.
 */
export const RUN_REPORT_ANNOTATION = 'threatmesh.io/run-report';
