/**
 * Idle keep-alive for servers that kube-apiserver calls (the admission webhook, the replica
 * API). Go's http.Transport, which kube-apiserver's webhook and aggregation clients use, keeps
 * an idle connection for 90 s; Node closes one after 5 s. When the server closes first, a
 * request the client sends on the closing connection fails with "connection reset by peer"
 * (a POST is not retried), and a ThreatIndicator write is refused by a webhook that is up.
 * The server must be the more patient side.
 */
import type { Server } from 'node:http';

/** How long a server keeps an idle connection: above the clients' 90 s pool timeout. */
export const SERVER_KEEP_ALIVE_MS = 120_000;

/**
 * Sets `server.keepAliveTimeout` to {@link SERVER_KEEP_ALIVE_MS} and returns the server. Only
 * the wait between requests grows: the header and request timeouts still bound a slow client,
 * and `close()` still ends idle connections at once (Node 19 and later).
 */
export function outlastClientPools<S extends Server>(server: S): S {
  server.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  return server;
}
