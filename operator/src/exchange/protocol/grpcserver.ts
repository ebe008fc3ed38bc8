/**
 * What both gRPC servers of the exchange (the sequencer's Exchange service and a partner's
 * Gossip service) share: the refusal-to-status mapping with the machine-readable reason in a
 * trailer, the unary handler wrapper, binding with mutual TLS and a bounded shutdown.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log.ts';
import { ExchangeRefusal, type RefusalCode } from './errors.ts';
import { serverCredentials, type TlsMaterial } from './tls.ts';

/** Metadata trailer carrying the machine-readable refusal reason. */
export const REASON_TRAILER = 'threatmesh-reason';

const STATUS: Readonly<Record<RefusalCode, grpc.status>> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  'not-found': grpc.status.NOT_FOUND,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  'out-of-range': grpc.status.OUT_OF_RANGE,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
};

/** How long a stopping server waits for calls in flight (open streams included) before it cuts them. */
const SHUTDOWN_GRACE_MS = 2_000;

/** A refusal as its gRPC status (reason in {@link REASON_TRAILER}); anything else as INTERNAL, logged. */
export function toServiceError(log: Logger, err: unknown): grpc.ServerErrorResponse {
  if (err instanceof ExchangeRefusal) {
    const metadata = new grpc.Metadata();
    metadata.set(REASON_TRAILER, err.reason);
    return Object.assign(new Error(err.message), { code: STATUS[err.code], details: err.message, metadata });
  }
  log.error('exchange call failed', { err });
  const details = `internal error: ${err instanceof Error ? err.message : String(err)}`;
  return Object.assign(new Error(details), { code: grpc.status.INTERNAL, details });
}

/** A unary handler from a promise-returning function; a synchronous throw (authorization) is answered like a rejection. */
export function unary<Req, Res>(log: Logger, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve().then(() => fn(call)).then((res) => callback(null, res), (err: unknown) => callback(toServiceError(log, err)));
  };
}

/** Binds `server` on `address` (port 0 picks a free one) with mutual TLS; resolves with the port. */
export function bindServer(server: grpc.Server, address: string, tls: TlsMaterial): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, serverCredentials(tls), (err, p) => (err === null ? resolve(p) : reject(err)));
  });
}

/** Stops accepting calls; streams a peer keeps open are cut after a short grace period. */
export function stopServer(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.tryShutdown(() => resolve());
    setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS).unref();
  });
}
