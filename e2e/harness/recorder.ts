/**
 * A recording reverse proxy on loopback: forwards every request to a real upstream (the test
 * model's server) and keeps what was sent and what came back, so a test can assert on the exact
 * bytes that left the program (for example that no AMBER indicator reached a GREEN endpoint).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One forwarded exchange. */
export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  /** The Authorization header sent, if any. */
  readonly authorization: string | undefined;
  readonly status: number;
  readonly response: string;
}

/** A running recorder. */
export interface Recorder {
  /** Base URL that mirrors the upstream's, e.g. http://127.0.0.1:PORT/v1. */
  readonly baseUrl: string;
  readonly seen: Recorded[];
  stop(): Promise<void>;
}

/** Starts a recorder in front of `upstreamBaseUrl` (same path prefix). */
export async function startRecorder(upstreamBaseUrl: string): Promise<Recorder> {
  const upstream = new URL(upstreamBaseUrl);
  const seen: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = { 'content-type': String(req.headers['content-type'] ?? 'application/json') };
      if (req.headers.authorization) headers['authorization'] = String(req.headers.authorization);
      fetch(`${upstream.origin}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }) })
        .then(async (r) => {
          const text = await r.text();
          seen.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization, status: r.status, response: text });
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        })
        .catch((err: unknown) => {
          seen.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization, status: 502, response: String(err) });
          res.writeHead(502);
          res.end(String(err));
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}${upstream.pathname.replace(/\/$/, '')}`,
    seen,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
