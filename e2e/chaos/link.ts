/**
 * A network link of the chaos network: a TCP proxy on 127.0.0.1 in front of one service, which
 * every connection of one party to that service goes through, so the link can be cut.
 *
 * - `up`: bytes flow; a new connection goes to the first target that accepts (a Service in
 *   front of replicas: only the sequencer replica holding the Lease listens).
 * - `blackhole`: a partition that drops packets. Open connections stop moving in both directions
 *   (their sockets are paused: the peers' writes pile up, keepalives time out); new connections
 *   are accepted and left waiting. Healing resumes both, as TCP does once a route is back.
 * - `reset`: a partition that refuses. Every open connection is reset (RST) and so is each new one.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** What a link does to the connections through it. */
export type LinkState = 'up' | 'blackhole' | 'reset';

/** A running link. */
export interface Link {
  /** Who connects through it to what, e.g. `partner-a→sequencer`. */
  readonly name: string;
  /** The port clients dial. */
  readonly port: number;
  state(): LinkState;
  /** Changes the state; open connections follow at once. */
  set(state: LinkState): void;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

function resetBoth(p: Pair): void {
  p.client.resetAndDestroy();
  p.upstream?.resetAndDestroy();
}

/** Starts a link on a free port (or `port`) to the first of `targets()` that accepts a connection. */
export async function startLink(name: string, targets: () => readonly number[], port = 0): Promise<Link> {
  const pairs = new Set<Pair>();
  let state: LinkState = 'up';

  const connectUpstream = (p: Pair, candidates: readonly number[]): void => {
    const [first, ...rest] = candidates;
    if (first === undefined) {
      p.client.destroy();
      return;
    }
    const up = createConnection({ host: '127.0.0.1', port: first });
    let connected = false;
    p.upstream = up;
    up.once('error', () => {
      // Nobody listens there (a standby replica, a killed server): try the next one.
      if (!connected && p.upstream === up && !p.client.destroyed) connectUpstream(p, rest);
    });
    up.once('connect', () => {
      connected = true;
      up.on('error', () => p.client.destroy());
      up.on('close', () => p.client.destroy());
      p.client.on('close', () => up.destroy());
      if (state === 'up') flow(p);
      else if (state === 'reset') resetBoth(p);
    });
  };

  // Piping is undone while frozen: a pipe resumes its source on the destination's 'drain'.
  const flow = (p: Pair): void => {
    if (p.upstream === undefined) {
      connectUpstream(p, targets());
      return;
    }
    p.client.pipe(p.upstream);
    p.upstream.pipe(p.client);
  };
  const freeze = (p: Pair): void => {
    if (p.upstream === undefined) return;
    p.client.unpipe(p.upstream);
    p.upstream.unpipe(p.client);
    p.client.pause();
    p.upstream.pause();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    const p: Pair = { client, upstream: undefined };
    pairs.add(p);
    client.once('close', () => pairs.delete(p));
    client.on('error', () => undefined);
    if (state === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (state === 'blackhole') return;
    connectUpstream(p, targets());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    name,
    port: (server.address() as AddressInfo).port,
    state: () => state,
    open: () => pairs.size,
    set(next) {
      if (next === state) return;
      state = next;
      for (const p of [...pairs]) {
        if (next === 'reset') resetBoth(p);
        else if (next === 'blackhole') freeze(p);
        else flow(p);
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      server.close(() => resolve());
    }),
  };
}
