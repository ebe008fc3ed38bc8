/**
 * The partner's HTTPS server: one port (8443 by default) for TAXII 2.1 (`/taxii2/`, `/api/`)
 * and the exports (`/exports/`), TLS from files (a Secret mounted by the deployment), optional
 * mTLS client certificates verified against a client CA. Every request is authenticated
 * (auth.ts) before any view runs; bodies are read only up to the configured maximum (413
 * beyond it, without reading the rest). Request counts and latencies are Prometheus metrics.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { CHALLENGE, authenticate, type Credentials } from './auth.ts';
import type { ServeConfig } from './config.ts';
import { handleExport, type ExportDeps } from './exports.ts';
import { taxiiError, type Reply, type ServeRequest } from './http.ts';
import { handleTaxii, type Caller, type TaxiiDeps } from './taxii.ts';
import type { AuditLog } from './audit.ts';
import { handleSightings, type SightingsDeps } from './sightings.ts';
import type { Tlp } from './tlp.ts';

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
  /** Other APIs on the same port (the reports' `/trends` and `/reports`), tried in order after authentication. @default none */
  readonly routes?: readonly MountedRoutes[] | undefined;
  /** Where reads through `routes` are audited (TAXII and exports audit themselves). @default none */
  readonly audit?: AuditLog | undefined;
  /** The sightings API (`/sightings/v1/`, serve/sightings.ts). @default not served */
  readonly sightings?: SightingsDeps | undefined;
}

/** Who a mounted API is answering: the authenticated consumer's name and the highest TLP it may read. */
export interface MountedCaller {
  readonly id: string;
  readonly maxTlp: Tlp;
}

/**
 * Another API mounted on the partner's HTTPS server, e.g. report/http.ts reportRoutes: answers
 * its own paths (resolving true) and resolves false for every other one. It runs only after the
 * caller authenticated, and it must cut every answer to `caller.maxTlp`.
 */
export interface MountedRoutes {
  /** API label of metrics and audit events. */
  readonly api: 'report';
  /** The first path segments it owns (`trends`, `reports`). */
  readonly prefixes: readonly string[];
  readonly handle: (req: IncomingMessage, res: ServerResponse, caller: MountedCaller) => Promise<boolean>;
}

class TooLarge extends Error {}

/** The metrics label of each API by its first path segment. */
const API_OF: Readonly<Record<string, string>> = { exports: 'export', taxii2: 'taxii', api: 'taxii', sightings: 'sightings' };

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

/** The part of a ServerResponse a mounted API uses (setHeader, writeHead, end), held until the read is audited. */
class CapturedResponse {
  statusCode = 200;
  readonly headers: OutgoingHttpHeaders = {};
  body: Buffer | undefined;
  headersSent = false;

  setHeader(name: string, value: string | number | string[]): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) this.setHeader(k, v);
    this.headersSent = true;
    return this;
  }

  end(body?: string | Buffer): this {
    if (body !== undefined) this.body = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return this;
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
    const mounted = this.#o.routes?.find((r) => r.prefixes.includes(segments?.[0] ?? ''));
    const api = API_OF[segments?.[0] ?? ''] ?? mounted?.api ?? 'other';
    if (mounted !== undefined && await this.#mounted(mounted, req, res, url)) {
      this.#o.metrics.requests.inc({ api, status: String(res.statusCode) });
      this.#o.metrics.seconds.observe({ api }, (performance.now() - started) / 1000);
      return;
    }
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

  // A mounted API answers into a buffer; the read is audited before the reply leaves (an audit
  // failure is a 500 without the data, as for TAXII and exports).
  async #mounted(r: MountedRoutes, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const auth = authenticate(this.#o.config, credentials(req));
    if (!auth.ok) return false;
    const captured = new CapturedResponse();
    if (!await r.handle(req, captured as unknown as ServerResponse, { id: auth.consumer.name, maxTlp: auth.consumer.maxTlp })) return false;
    try {
      await this.#o.audit?.record({ at: new Date(), identity: auth.consumer.name, via: auth.via, api: r.api, action: req.method ?? 'GET', resource: url.pathname, count: captured.statusCode < 300 ? 1 : 0, status: captured.statusCode });
    } catch (err) {
      this.#o.log.error('audit write failed; the read is refused', { path: url.pathname, err });
      const e = taxiiError(500, 'the server failed to answer; it is logged, try again later');
      res.writeHead(e.status, e.headers).end(e.body);
      return true;
    }
    res.writeHead(captured.statusCode, captured.headers).end(captured.body);
    return true;
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
    if (segments[0] === 'sightings' && this.#o.sightings !== undefined) return handleSightings(this.#o.sightings, caller, request);
    return handleTaxii(this.#o.taxii, caller, request);
  }
}
