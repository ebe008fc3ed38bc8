/**
 * Every default of a partner's side of the exchange (`threatmesh operator --exchange`) in one
 * place: the operator's exchange flags and the partner library read these, so they cannot disagree.
 */

import { MAX_HEAD_AGE_MS } from '../../domain/verify.ts';

/** Defaults of the partner exchange: flags of `threatmesh operator --exchange` and its library. */
export const PARTNER_DEFAULTS = {
  /** Where PartnerNodes are read and replicated ThreatIndicators written. */
  namespace: 'threatmesh',
  /** Database of this partner's replica. */
  database: 'threatmesh_partner',
  /** Where this partner serves its accepted tree head to peers. */
  gossipBind: '0.0.0.0:8444',
  /** Status, gossip, forwarding and voting period. */
  syncIntervalMs: 2_000,
  /** Oldest the newest signed tree head may be before the sequencer is reported silent (HeadFresh=False). */
  maxHeadAgeMs: MAX_HEAD_AGE_MS,
  /** Time a decided round may take to appear in a signed tree head (append latency and clock skew) before it is reported missing (decisions.ts). */
  decisionGraceMs: 120_000,
  /** Drift repair period. */
  repairIntervalMs: 300_000,
  /** First wait before a failed drift repair runs again (doubling, at most the period). */
  repairRetryMs: 5_000,
  /** Long-poll of each replica sync for new entries. */
  waitMs: 10_000,
  /** Apply and save the cursor after this many verified entries. */
  checkpointEvery: 256,
  /** Batch size of a sync that starts further behind than this (a new partner's catch-up): fewer commands and cursor saves per entry; two multiples of the leaf store's chunk. */
  catchUpEvery: 2048,
  /** Backoff of the replica after transport or database errors: first delay and cap. The cap bounds how long a healed fault (a freed disk, a restarted database or sequencer) waits for the next sync; a sync is one long poll, so retrying every few seconds costs the sequencer little. */
  retryBaseMs: 200,
  retryCapMs: 5_000,
  /** A replica sync step (a database write, the entry stream, a proof) waiting this long logs a warning naming it, every this often. */
  slowSyncMs: 30_000,
  /** Most recent log positions kept as ThreatIndicator objects (the working set; the full set is served by replica-api). */
  materializeBudget: 10_000,
  /** Objects the Kubernetes sink writes at the same time. */
  kubeConcurrency: 8,
  /** Every how many pending-mirror syncs the whole namespace is looked at (else only labelled objects). */
  mirrorFullScanEvery: 15,
  /** Most pending rounds mirrored as ThreatIndicators per sync. */
  mirrorPerSync: 50,
  /** Every how many syncs revocation annotations are looked for. */
  revocationScanEvery: 3,
} as const;
