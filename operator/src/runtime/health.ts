/**
 * The metrics and health endpoint: GET /metrics (Prometheus text), /healthz (the process is
 * alive) and /readyz (named checks, all must pass), and /readyz/NAME for one check, as
 * kube-apiserver serves them. Listens on 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** A named readiness check: returns true when ready, or a reason why not. */
export interface HealthCheck {
  readonly name: string;
  readonly check: () => true | string;
  /**
   * Shown by /readyz?verbose and served alone at /readyz/NAME, but left out of the /readyz
   * verdict: for work whose failure must not take the pod out of its Services (the admission
   * webhook is served by the same pods). @default false
   */
  readonly informational?: boolean;
}

/** Options of a HealthServer. */
export interface HealthServerOptions {
  /** What /metrics serves: the operator's RuntimeMetrics, or any registry with the same `expose` (serve/replicametrics.ts). */
  readonly metrics: Pick<RuntimeMetrics, 'expose'>;
  readonly log: Logger;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Checks behind /readyz. */
  readonly readyChecks: readonly HealthCheck[];
  /** Checks behind /healthz. @default none (alive while it answers) */
  readonly liveChecks?: readonly HealthCheck[];
}

/** Serves /metrics, /healthz and /readyz. */
export class HealthServer {
  private readonly opts: HealthServerOptions;
  private server: Server | undefined;

  constructor(opts: HealthServerOptions) {
    this.opts = opts;
  }

  /** Starts listening; resolves with the bound port. Rejects when the port is taken. */
  async start(): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.log.error('health endpoint failed', { err });
        if (!res.headersSent) res.writeHead(500);
        res.end('internal error\n');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`metrics/health server: cannot listen on ${this.opts.host ?? '127.0.0.1'}:${this.opts.port} (${err.message}); choose another port`)));
      server.listen(this.opts.port, this.opts.host ?? '127.0.0.1', resolve);
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and closes open connections. */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url.pathname) {
      case '/metrics': {
        const m = await this.opts.metrics.expose();
        res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
        return;
      }
      case '/healthz':
        return respond(res, this.opts.liveChecks ?? [], url.searchParams.has('verbose'));
      case '/readyz':
        return respond(res, this.opts.readyChecks, url.searchParams.has('verbose'));
      default: {
        const one = url.pathname.startsWith('/readyz/') ? this.opts.readyChecks.find((c) => `/readyz/${c.name}` === url.pathname) : undefined;
        if (one !== undefined) return respond(res, [{ ...one, informational: false }], url.searchParams.has('verbose'));
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try /metrics, /healthz, /readyz or one of ${this.opts.readyChecks.map((c) => `/readyz/${c.name}`).join(', ')}\n`);
      }
    }
  }
}

function respond(res: ServerResponse, checks: readonly HealthCheck[], verbose: boolean): void {
  const results = checks.map((c) => {
    let r: true | string;
    try {
      r = c.check();
    } catch (err) {
      r = err instanceof Error ? err.message : String(err);
    }
    return { name: c.name, ok: r === true, why: r === true ? '' : r, counts: c.informational !== true };
  });
  const ok = results.every((r) => r.ok || !r.counts);
  const lines = results.filter((r) => verbose || (!r.ok && r.counts)).map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed${r.counts ? '' : ' (informational)'}: ${r.why}`));
  const body = ok ? (verbose ? `${lines.join('\n')}\nok\n` : 'ok\n') : `${lines.join('\n')}\nnot ready\n`;
  res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}
