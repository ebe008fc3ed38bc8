/**
 * Caller identities remembered per connection. Reading the client certificate of a call
 * (grpc-js getAuthContext → TLSSocket.getPeerCertificate) builds a new certificate object each
 * time, which cost the sequencer about a sixth of its CPU with 100 followers making two calls
 * per tree head each. A connection's peer certificate cannot change while it is open (HTTP/2
 * forbids TLS renegotiation and Node refuses it on HTTP/2 sockets), so the identity read from
 * it (CN and fingerprint, tls.ts peerIdentity) is kept per HTTP/2 session, weakly: it goes with
 * the connection. Only the certificate reading is cached; every call is still authorized
 * against the directory (tls.ts authorize: known partner, pinned certificate, role).
 */
import type { PeerCertificate } from 'node:tls';
import { peerIdentity, type PeerIdentity } from './tls.ts';

/** The part of a grpc-js server call the identity is read from. */
export interface CallWithPeer {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

/** Identities read per connection, and calls that reused one. */
export interface PeerIdentityStats {
  readonly read: number;
  readonly reused: number;
}

/** Peer identities of calls, read once per connection. One per endpoint. */
export class ConnectionIdentities {
  readonly #bySession = new WeakMap<object, PeerIdentity>();
  #read = 0;
  #reused = 0;

  /**
   * The verified identity of `call`'s client certificate (throws the refusals of
   * {@link peerIdentity}). Read from the certificate on the connection's first call; later
   * calls on the same connection reuse it. A call whose connection cannot be found is read
   * every time, as before.
   */
  of(call: CallWithPeer): PeerIdentity {
    const session = sessionOf(call);
    const known = session === undefined ? undefined : this.#bySession.get(session);
    if (known !== undefined) {
      this.#reused += 1;
      return known;
    }
    const who = peerIdentity(call.getAuthContext());
    this.#read += 1;
    if (session !== undefined) this.#bySession.set(session, who);
    return who;
  }

  /** Identities read from a certificate, and calls that reused their connection's. */
  stats(): PeerIdentityStats {
    return { read: this.#read, reused: this.#reused };
  }
}

// grpc-js (1.14, no server interceptors) keeps the call's HTTP/2 stream at call.call.stream;
// its session is the TLS connection, one object per connection. A closed session is never
// trusted from the cache.
function sessionOf(call: CallWithPeer): object | undefined {
  const stream = (call as { readonly call?: { readonly stream?: { readonly session?: unknown } } }).call?.stream;
  const session = stream?.session;
  if (typeof session !== 'object' || session === null) return undefined;
  const state = session as { readonly destroyed?: unknown; readonly closed?: unknown };
  return state.destroyed === false && state.closed === false ? session : undefined;
}
