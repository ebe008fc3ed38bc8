/**
 * Why a loop of the partner exchange failed, said clearly: a full or unreachable database, the
 * cluster's API server answering 5xx or not at all, an expired or untrusted certificate, a gRPC
 * message over the size limit, the sequencer out of reach, or a peer partner out of reach (a
 * gossip call names the peer it was made to, so its silence is never blamed on the sequencer). Each cause has a condition reason,
 * a message that says what to do, and a metric label; the loops keep retrying with backoff (a
 * full disk or a database that is down heals by itself once fixed, and nothing is lost: the
 * cursor moves only past written entries). While replication fails, the sequencer PartnerNode
 * shows Replicating=False with the cause, and each new cause raises one Warning Event.
 */
import * as grpc from '@grpc/grpc-js';
import type { Counter, Gauge } from 'prom-client';
import { ApiError } from '../../runtime/client.ts';
import { ExchangeCallError } from '../protocol/client.ts';
import { mongoUnreachable } from '../../store/connect.ts';

/** Every cause, as the `cause` label of the failure metrics. */
export const FAILURE_CAUSES = ['database-full', 'database-unavailable', 'cluster-api', 'certificate-expired', 'certificate-invalid', 'message-too-large', 'sequencer-unavailable', 'peer-unavailable', 'other'] as const;

/** One cause. */
export type FailureCause = (typeof FAILURE_CAUSES)[number];

/** A failure with its cause, condition reason and a message that says what to do. */
export interface ClassifiedFailure {
  readonly cause: FailureCause;
  /** CamelCase, for the Replicating condition and the Event. */
  readonly reason: string;
  readonly message: string;
}

const REASONS: Readonly<Record<FailureCause, string>> = {
  'database-full': 'DatabaseFull', 'database-unavailable': 'DatabaseUnavailable', 'cluster-api': 'ClusterApiError', 'certificate-expired': 'CertificateExpired',
  'certificate-invalid': 'CertificateInvalid', 'message-too-large': 'MessageTooLarge', 'sequencer-unavailable': 'Unreachable', 'peer-unavailable': 'PeerUnavailable', other: 'SyncFailed',
};

/** Who a failed call was made to: the sequencer (the default) or a peer partner, by its partnerId. */
export type Callee = { readonly peer: string } | undefined;

const ADVICE: Readonly<Record<FailureCause, string>> = {
  'database-full': 'the partner database\'s disk is full: free or grow it; replication resumes from its cursor, nothing is lost',
  'database-unavailable': 'the partner database does not answer: check that MongoDB runs and --mongodb-uri reaches it; retrying with backoff',
  'cluster-api': 'the cluster\'s API server fails or does not answer: check kube-apiserver and etcd; retrying with backoff',
  'certificate-expired': 'a TLS certificate has expired (this partner\'s --tls-cert or the sequencer\'s): renew it from the network CA and restart',
  'certificate-invalid': 'the TLS handshake with the sequencer failed: check --tls-cert, --tls-key and --tls-ca against the network CA',
  'message-too-large': 'a gRPC message is over the size limit of one side: the forwarder splits batches; check that both sides use the same limit',
  'sequencer-unavailable': 'the sequencer does not answer: retrying with backoff',
  'peer-unavailable': 'peer PEER does not answer at the endpoint of its PartnerNode: check spec.endpoint and that its --gossip-bind is reachable from here; replication goes on without it, gossip retries next period',
  other: 'retrying with backoff',
};

// Advice for a call to a peer: the sequencer's words would send the reader to the wrong party.
function advice(cause: FailureCause, callee: Callee): string {
  if (callee === undefined) return ADVICE[cause];
  if (cause === 'certificate-invalid') return `the TLS handshake with peer ${callee.peer} failed: check its PartnerNode endpoint, this partner's --tls-cert and --tls-ca against the network CA, and that the peer's certificate has serverAuth`;
  if (cause === 'certificate-expired') return `a TLS certificate has expired (this partner's --tls-cert or peer ${callee.peer}'s): renew it from the network CA and restart`;
  return ADVICE[cause].replace('PEER', callee.peer);
}

function text(err: unknown): string {
  if (err instanceof Error) return `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}`;
  return String(err);
}

function grpcCode(err: unknown): grpc.status | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  const rpc = 'details' in err || (err as Error).name === 'ExchangeCallError';
  return rpc && typeof code === 'number' ? (code) : undefined;
}

const GONE: ReadonlySet<grpc.status> = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);

function mongoCause(err: Error, t: string): FailureCause {
  if (/disk is full|no space left on device|OutOfDiskSpace/i.test(t) || (err as { code?: unknown }).code === 14031) return 'database-full';
  if (mongoUnreachable(err)) return 'database-unavailable';
  return 'other';
}

function rpcCause(code: grpc.status, t: string, callee: Callee): FailureCause {
  if (code === grpc.status.RESOURCE_EXHAUSTED && /larger than max|message size/i.test(t)) return 'message-too-large';
  if (/certificate|self.signed|unable to verify|handshake|alert/i.test(t)) return 'certificate-invalid';
  if (!GONE.has(code)) return 'other';
  return callee === undefined ? 'sequencer-unavailable' : 'peer-unavailable';
}

function causeOf(err: unknown, callee: Callee): FailureCause {
  const t = text(err);
  if (err instanceof Error && err.name.startsWith('Mongo')) return mongoCause(err, t);
  if (/certificate (has )?expired|CERT_HAS_EXPIRED/i.test(t)) return 'certificate-expired';
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429 || err.status === 0 ? 'cluster-api' : 'other';
  const code = grpcCode(err);
  if (code !== undefined) return rpcCause(code, t, callee);
  // The Kubernetes client's transport errors are plain Node errors.
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|request timed out/i.test(t) ? 'cluster-api' : 'other';
}

/** True for a call refused for a message over a gRPC size limit (either side's), not a refusal the sequencer gave with a reason: send less per call. */
export function overMessageLimit(err: unknown): boolean {
  return err instanceof ExchangeCallError && err.code === grpc.status.RESOURCE_EXHAUSTED && err.reason === undefined;
}

/** Classifies an error of the exchange's loops; `callee` names the peer when the failed call was made to one. @default the sequencer */
export function classifyFailure(err: unknown, callee?: Callee): ClassifiedFailure {
  const cause = causeOf(err, callee);
  const detail = text(err).split('\n')[0]!.slice(0, 300);
  return { cause, reason: REASONS[cause], message: `${advice(cause, callee)} (${detail})` };
}

/** Where the reporter counts. */
export interface FailureMetrics {
  /** threatmesh_exchange_failures_total{loop, cause}. */
  readonly failures: Counter<'loop' | 'cause'>;
  /** threatmesh_exchange_replication_failing{cause}: 1 while replication fails for that cause. */
  readonly failing: Gauge<'cause'>;
}

/**
 * Loops whose failure shows on the Replicating condition and the failing gauge: replication into
 * the partner database, the working set, the ThreatIndicators written from it to the cluster
 * (materializer.ts), and the exchange's start while it waits for its database (startup.ts).
 */
export const TRACKED_LOOPS = ['replication', 'working set', 'start'] as const;

/** One tracked loop. */
export type TrackedLoop = (typeof TRACKED_LOOPS)[number];

function tracked(loop: string): loop is TrackedLoop {
  return (TRACKED_LOOPS as readonly string[]).includes(loop);
}

/** Keeps the current failure of each tracked loop and counts every loop's failures by cause. */
export class FailureReporter {
  readonly #metrics: FailureMetrics;
  readonly #current = new Map<TrackedLoop, ClassifiedFailure>();
  #evented: string | undefined;

  constructor(metrics: FailureMetrics) {
    this.#metrics = metrics;
  }

  /** Records a failure of `loop` (`replication`, `working set`, `gossip`…), made calling `callee` (a peer) if given; returns its classification. */
  failed(loop: string, err: unknown, callee?: Callee): ClassifiedFailure {
    const f = classifyFailure(err, callee);
    this.#metrics.failures.inc({ loop, cause: f.cause });
    if (tracked(loop)) {
      this.#current.set(loop, f);
      this.#gauge();
    }
    return f;
  }

  /** `loop` succeeded again. @default loop replication */
  recovered(loop: TrackedLoop = 'replication'): void {
    if (!this.#current.delete(loop)) return;
    this.#gauge();
    if (this.#current.size === 0) this.#evented = undefined;
  }

  /** The failure to show while one lasts: replication's first, then the working set's (with the loop named). */
  current(): (ClassifiedFailure & { readonly loop: TrackedLoop }) | undefined {
    for (const loop of TRACKED_LOOPS) {
      const f = this.#current.get(loop);
      if (f !== undefined) return { ...f, loop };
    }
    return undefined;
  }

  /** The current failure when its cause has not been reported as an Event yet (marks it reported). */
  eventDue(): (ClassifiedFailure & { readonly loop: TrackedLoop }) | undefined {
    const f = this.current();
    if (f === undefined || this.#evented === f.cause) return undefined;
    this.#evented = f.cause;
    return f;
  }

  // threatmesh_exchange_replication_failing{cause} is 1 for each cause a tracked loop fails with now.
  #gauge(): void {
    const now = new Set([...this.#current.values()].map((f) => f.cause));
    for (const cause of FAILURE_CAUSES) this.#metrics.failing.set({ cause }, now.has(cause) ? 1 : 0);
  }
}
