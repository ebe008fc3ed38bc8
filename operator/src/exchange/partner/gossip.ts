/**
 * Tree-head gossip between partners: each partner operator serves the tree head it accepted from
 * the sequencer (read-only, mutual TLS, any partner of its directory may read), and reads its
 * peers' heads to compare them with its own (PartnerReplica.compareWithPeer). What a peer sends
 * is not trusted: the comparison verifies the sequencer's signature and consistency.
 *
 * The caller's certificate is read once per connection (protocol/peers.ts
 * {@link ConnectionIdentities}); every call is still authorized against the directory current at
 * that call, and a refusal is never remembered (docs/adr/2026-12-07-sequencer-per-call-costs.md).
 */
import * as grpc from '@grpc/grpc-js';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import type { Logger } from '../../log.ts';
import type { AcceptedHead__Output } from '../protocol/gen/threatmesh/exchange/v1/AcceptedHead.ts';
import type { GossipClient as GeneratedClient } from '../protocol/gen/threatmesh/exchange/v1/Gossip.ts';
import type { Proof__Output } from '../protocol/gen/threatmesh/exchange/v1/Proof.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { bindServer, stopServer, unary } from '../protocol/grpcserver.ts';
import { ConnectionIdentities, type PeerIdentityStats } from '../protocol/peers.ts';
import { authorize, channelCredentials, type PartnerEntry, type TlsMaterial } from '../protocol/tls.ts';
import { headFromWire, headToWire } from '../protocol/wire.ts';

/** What the gossip endpoint is built from. */
export interface GossipServerOptions {
  /** This partner's id (its certificate CN), sent with each answer. */
  readonly partnerId: string;
  /** The partners allowed to read, current at each call. */
  readonly directory: () => ReadonlyMap<string, PartnerEntry>;
  /** This partner's accepted head; undefined before it accepted one. */
  readonly acceptedHead: () => Promise<SignedTreeHead | undefined>;
  /** A consistency proof from this partner's verified leaves (PartnerReplica.consistencyProofFromLeaves). @default none: refused */
  readonly consistencyProof?: (oldSize: number, newSize: number) => Promise<string[]>;
  readonly tls: TlsMaterial;
  /** host:port; port 0 picks a free one. */
  readonly address: string;
  readonly log: Logger;
}

/** A running gossip endpoint. */
export interface GossipServer {
  readonly port: number;
  /** Calls by how the caller was identified: its certificate read (once per connection) or the connection's identity reused. */
  peerIdentities(): PeerIdentityStats;
  stop(): Promise<void>;
}

/** Starts the gossip endpoint with mutual TLS. */
export async function startGossipServer(opts: GossipServerOptions): Promise<GossipServer> {
  const peers = new ConnectionIdentities();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024, 'grpc.max_send_message_length': 64 * 1024 });
  server.addService(loadExchangePackage().Gossip.service, {
    GetAcceptedHead: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      unary(opts.log, async () => {
        authorize(opts.directory(), peers.of(call), 'read');
        const head = await opts.acceptedHead();
        return { partnerId: opts.partnerId, head: head === undefined ? null : headToWire(head) };
      })(call, callback);
    },
    GetConsistencyProof: (call: grpc.ServerUnaryCall<{ oldSize: number; newSize: number }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      unary(opts.log, async () => {
        authorize(opts.directory(), peers.of(call), 'read');
        if (opts.consistencyProof === undefined) throw new ExchangeRefusal('failed-precondition', 'out-of-range', 'this partner keeps no leaf hashes to prove consistency with');
        try {
          return { hashes: await opts.consistencyProof(call.request.oldSize, call.request.newSize) };
        } catch (err) {
          throw new ExchangeRefusal('out-of-range', 'out-of-range', err instanceof Error ? err.message : String(err));
        }
      })(call, callback);
    },
  });
  const port = await bindServer(server, opts.address, opts.tls);
  opts.log.info('gossip server listening', { address: opts.address, port });
  return {
    port,
    peerIdentities: () => peers.stats(),
    stop: () => stopServer(server),
  };
}


/** A peer's answer: who answered and its accepted head (undefined before it accepted one). */
export interface PeerHead {
  readonly partnerId: string;
  readonly head: SignedTreeHead | undefined;
}

/** How to reach one peer's gossip endpoint. */
export interface GossipClientOptions {
  /** host:port of the peer's gossip endpoint. */
  readonly address: string;
  readonly tls: TlsMaterial;
  /** Name to check in the peer's certificate when it differs from the address host. */
  readonly serverName?: string;
  /** @default 5_000 */
  readonly deadlineMs?: number;
}

/** Reads one peer's accepted head. Call {@link close} when done. */
export class GossipClient {
  readonly #client: GeneratedClient;
  readonly #deadlineMs: number;

  constructor(opts: GossipClientOptions) {
    const Client = loadExchangePackage().Gossip;
    this.#deadlineMs = opts.deadlineMs ?? 5_000;
    this.#client = new Client(opts.address, channelCredentials(opts.tls), {
      'grpc.enable_retries': 0,
      ...(opts.serverName !== undefined ? { 'grpc.ssl_target_name_override': opts.serverName, 'grpc.default_authority': opts.serverName } : {}),
    });
  }

  /** The peer's consistency proof between two sizes from its verified leaves; rejects on transport errors, refusals and peers that predate it (UNIMPLEMENTED). */
  consistencyProof(oldSize: number, newSize: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.#client.GetConsistencyProof({ oldSize, newSize }, { deadline: Date.now() + this.#deadlineMs }, (err: grpc.ServiceError | null, res?: Proof__Output) => {
        if (err !== null || res === undefined) reject(err ?? new Error('GetConsistencyProof: empty response'));
        else resolve(res.hashes);
      });
    });
  }

  /** The peer's accepted head; rejects on transport errors and refusals. */
  acceptedHead(): Promise<PeerHead> {
    return new Promise((resolve, reject) => {
      this.#client.GetAcceptedHead({}, { deadline: Date.now() + this.#deadlineMs }, (err: grpc.ServiceError | null, res?: AcceptedHead__Output) => {
        if (err !== null || res === undefined) reject(err ?? new Error('GetAcceptedHead: empty response'));
        else resolve({ partnerId: res.partnerId, head: res.head === null ? undefined : headFromWire(res.head) });
      });
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/** The TLS server name to check for an endpoint host: `localhost` for loopback IPs (SNI cannot carry an IP), else the host itself. */
export function serverNameFor(endpoint: string): string {
  const host = endpoint.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
}
