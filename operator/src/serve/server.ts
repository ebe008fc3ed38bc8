/**
 * The partner's HTTPS server: one port (8443 by default) for TAXII 2.1 (`/taxii2/`, `/api/`)
 * and the exports (`/exports/`), TLS from files (a Secret mounted by the deployment), optional
 * mTLS client certificates verified against a client CA. Every request is authenticated
 * (auth.ts) before any view runs; bodies are read only up to the configured maximum (413
 * beyond it, without reading the rest). Request counts and latencies are Prometheus metrics.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { CHALLENGE, authenticate, type Credentials } from './auth.ts';
import type { ServeConfig } from './config.ts';
import { handleExport, type ExportDeps } from './exports.ts';
import { taxiiError, type Reply, type ServeRequest } from './http.ts';
import { handleTaxii, type Caller, type TaxiiDeps } from './taxii.ts';

/** Metrics of the server, on the given registry. */
export class ServeMetrics {
  readonly requests: Counter<'api' | 'status'>;
  readonly seconds: Histogram<'api'>;

  constructor(registry: Registry) {
    this.requests = new Counter({ name: 'threatmesh_serve_requests_total', help: 'Requests to the partner HTTPS server by API (taxii, export, other) and HTTP status', labelNames: ['api', 'status'], registers: [registry] });
    this.seconds = new Histogram({ name: 'threatmesh_serve_request_seconds', help: 'Latency of partner HTTPS server requests by API', labelNames: ['api'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10], registers: [registry] });
  }
}

/** Everything the server is built from. */
export interface ServeServerOptions {
  readonly config: ServeConfig;
  readonly taxii: TaxiiDeps;
  readonly exports: ExportDeps;
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem?: string | undefined };
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly metrics: ServeMetrics;
  readonly log: Logger;
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      reject(new TooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function credentials(req: IncomingMessage): Credentials {
  const socket = req.socket as TLSSocket;
  const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  const presented = cert !== undefined && Object.keys(cert).length > 0;
  const cn = presented ? (Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN) : undefined;
  return {
    authorization: req.headers.authorization,
    ...(presented && socket.authorized ? { verifiedCert: { subjectCN: cn, fingerprint256: cert.fingerprint256 } } : {}),
    unverifiedCert: presented && !socket.authorized,
  };
}

function segmentsOf(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** The running server. */
export class ServeServer {
  readonly #o: ServeServerOptions;
  #server: Server | undefined;

  constructor(opts: ServeServerOptions) {
    this.#o = opts;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    const t = this.#o.tls;
    const server = createServer({ cert: t.certPem, key: t.keyPem, minVersion: 'TLSv1.2', ...(t.clientCaPem !== undefined ? { ca: t.clientCaPem, requestCert: true, rejectUnauthorized: false } : {}) }, (req, res) => {
      void this.#serve(req, res);
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`serve: cannot listen on ${this.#o.host}:${this.#o.port} (${err.message}); choose another --listen`)));
      server.listen(this.#o.port, this.#o.host, resolve);
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and closes connections. */
  async stop(): Promise<void> {
    const s = this.#server;
    if (s === undefined) return;
    this.#server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'https://localhost');
    const segments = segmentsOf(url.pathname);
    const api = segments?.[0] === 'exports' ? 'export' : segments?.[0] === 'taxii2' || segments?.[0] === 'api' ? 'taxii' : 'other';
    let reply: Reply;
    try {
      reply = await this.#reply(req, url, segments);
    } catch (err) {
      this.#o.log.error('request failed', { path: url.pathname, err });
      reply = taxiiError(500, 'the server failed to answer; it is logged, try again later');
    }
    this.#o.metrics.requests.inc({ api, status: String(reply.status) });
    this.#o.metrics.seconds.observe({ api }, (performance.now() - started) / 1000);
    res.writeHead(reply.status, reply.headers).end(reply.body);
  }

  async #reply(req: IncomingMessage, url: URL, segments: string[] | undefined): Promise<Reply> {
    const auth = authenticate(this.#o.config, credentials(req));
    if (!auth.ok) return taxiiError(401, auth.message, undefined, { 'www-authenticate': CHALLENGE });
    if (segments === undefined) return taxiiError(400, 'the path is not valid percent-encoding');
    const caller: Caller = { consumer: auth.consumer, via: auth.via };
    let body: Buffer | undefined;
    if (req.method === 'POST') {
      try {
        body = await readBody(req, this.#o.config.maxContentLength);
      } catch (err) {
        if (err instanceof TooLarge) return taxiiError(413, `the body is larger than the API root's max_content_length of ${this.#o.config.maxContentLength} bytes`, undefined, { connection: 'close' });
        throw err;
      }
    }
    const request: ServeRequest = { method: req.method ?? 'GET', segments, query: url.searchParams, headers: req.headers as Record<string, string | undefined>, ...(body !== undefined ? { body } : {}) };
    if (segments[0] === 'exports') return handleExport(this.#o.exports, caller, request);
    return handleTaxii(this.#o.taxii, caller, request);
  }
}
