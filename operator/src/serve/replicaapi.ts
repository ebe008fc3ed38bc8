/**
 * The aggregated Kubernetes API over a partner's replicated set
 * (docs/adr/2026-12-06-million-indicators.md): `replica.threatmesh.io/v1alpha1`, namespaced
 * resource `threatindicators`, read-only. The cluster's API server proxies `kubectl get
 * threatindicators` (a registered APIService with a higher group priority than the CRDs') to
 * this HTTPS server, which renders each record of the partner database as a ThreatIndicator
 * (serve/replicaview.ts), so every admitted indicator is readable through the cluster API while
 * etcd holds none of them.
 *
 * Contract:
 * - Only the front proxy is served (serve/replicaauth.ts); health endpoints answer anyone.
 * - `get` and `list` (all namespaces or the replica's namespace; others are empty), chunked by
 *   `limit`/`continue` over one database cursor (store/indicatorpages.ts; an expired token is
 *   410 Expired), as JSON or as the `Table` kubectl asks for; `fieldSelector` metadata.name /
 *   metadata.namespace and `labelSelector` threatmesh.io/type and threatmesh.io/name (`=` or
 *   `in (…)`, at most MAX_SELECTED_NAMES names) are honoured (serve/replicaselector.ts), anything
 *   else is refused with 400 saying what is supported. A name-selected list is one database
 *   query (`$in`), sorted by name and chunked by `limit` with a stateless continue token.
 * - `watch` and every write answer 405 with a Status that points at the working set
 *   (`kubectl … ti`, the ThreatIndicator CRD).
 * - With `metrics`, every request but the health probes is counted and timed by verb, resource
 *   and code, with list page sizes, authentication and authorization results, database errors
 *   and failed TLS handshakes (serve/replicametrics.ts); `/readyz` runs `readiness`.
 */
import type { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.ts';
import type { HealthCheck } from '../runtime/health.ts';
import { outlastClientPools } from '../runtime/keepalive.ts';
import type { IndicatorRecord } from '../store/indicators.ts';
import { ExpiredContinue, type RecordChunk } from '../store/indicatorpages.ts';
import { AccessReviewer, authenticate, issuedByOneOf, pemCertificates, type Access, type Caller, type RequestHeaderConfig } from './replicaauth.ts';
import { classifyRequest, type DatabaseOperation, type ReplicaApiMetrics } from './replicametrics.ts';
import { parseSelectors, type Selection } from './replicaselector.ts';
import { REPLICA_API_VERSION, REPLICA_GROUP, REPLICA_VERSION, TABLE_COLUMNS, replicaIndicator, tableCells, type ReplicaIndicator } from './replicaview.ts';

/** The reads the server needs (store/indicatorpages.ts IndicatorPages). */
export interface ReplicaRecords {
  byName(name: string): Promise<IndicatorRecord | undefined>;
  /** The records of these object names that exist (store/indicatornames.ts NamedIndicatorPages: one `$in`, or on FerretDB 1.x one indexed equality per name). */
  byNames(names: readonly string[]): Promise<readonly IndicatorRecord[]>;
  chunk(limit: number, token?: string): Promise<RecordChunk>;
}

/** Everything the server is built from. */
export interface ReplicaApiOptions {
  readonly records: ReplicaRecords;
  /** Namespace of the replicated set (the exchange namespace). */
  readonly namespace: string;
  readonly requestHeader: RequestHeaderConfig;
  readonly reviewer: Pick<AccessReviewer, 'allowed'>;
  /** Serving certificate and key (PEM); the certificate must name `<service>.<namespace>.svc`. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly now: () => Date;
  readonly log: Logger;
  /** Largest chunk served; bigger limits are cut to it. @default 5000 */
  readonly maxLimit?: number;
  /** Where requests are counted and timed. @default not measured */
  readonly metrics?: ReplicaApiMetrics;
  /** Checks behind `/readyz` (serve/replicametrics.ts DatabaseReadiness). @default none: ready while it answers */
  readonly readiness?: readonly HealthCheck[];
}

/** A running server. */
export interface RunningReplicaApi {
  readonly port: number;
  /**
   * Trusts a new front-proxy configuration (serve/replicatrust.ts calls it when
   * extension-apiserver-authentication changes): new TLS handshakes verify against its CAs, idle
   * connections are closed, and a request on an older connection is served only if its client
   * certificate was issued by one of the new CAs.
   */
  reloadRequestHeader(cfg: RequestHeaderConfig): void;
  stop(): Promise<void>;
}

/**
 * Largest request head accepted, kube-apiserver's own bound (1 MiB): whatever selector the API
 * server forwards is read and, above MAX_SELECTED_NAMES names, refused with a 400 that names
 * the bound instead of Node's bare 431 (its default is 16 KiB, about 300 names).
 */
const MAX_HEADER_BYTES = 1024 * 1024;

interface HttpReply {
  readonly status: number;
  readonly body: unknown;
}

const RESOURCE = 'threatindicators';
const PREFIX = `/apis/${REPLICA_GROUP}/${REPLICA_VERSION}`;
const TABLE_ACCEPT = /as=Table/;

function status(code: number, reason: string, message: string): HttpReply {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code } };
}

const DISCOVERY: Readonly<Record<string, unknown>> = {
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [group()] },
  [`/apis/${REPLICA_GROUP}`]: { kind: 'APIGroup', apiVersion: 'v1', ...group() },
  [PREFIX]: {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: REPLICA_API_VERSION,
    resources: [{ name: RESOURCE, singularName: 'threatindicator', namespaced: true, kind: 'ThreatIndicator', verbs: ['get', 'list'], categories: ['threatmesh'] }],
  },
};

function group(): Record<string, unknown> {
  const v = { groupVersion: REPLICA_API_VERSION, version: REPLICA_VERSION };
  return { name: REPLICA_GROUP, versions: [v], preferredVersion: v };
}

/** What a resource path asks for, or undefined when it names nothing of this API. */
export function parseResourcePath(path: string): { namespace: string; name?: string } | undefined {
  if (!path.startsWith(`${PREFIX}/`)) return undefined;
  const parts = path.slice(PREFIX.length + 1).split('/');
  if (parts.length === 1 && parts[0] === RESOURCE) return { namespace: '' };
  if (parts[0] !== 'namespaces' || parts[1] === undefined || parts[1] === '' || parts[2] !== RESOURCE) return undefined;
  if (parts.length === 3) return { namespace: parts[1] };
  if (parts.length === 4 && parts[3] !== '') return { namespace: parts[1], name: decodeURIComponent(parts[3]!) };
  return undefined;
}

class ReplicaApi {
  readonly #o: ReplicaApiOptions;
  #requestHeader: RequestHeaderConfig;
  #trusted: X509Certificate[];
  // Bumped at each reload; a connection remembers the generation it was verified under.
  #generation = 0;
  readonly #verifiedAt = new WeakMap<TLSSocket, number>();

  constructor(opts: ReplicaApiOptions) {
    this.#o = opts;
    this.#requestHeader = opts.requestHeader;
    this.#trusted = pemCertificates(opts.requestHeader.caPem);
  }

  /** Trusts `cfg` from now on: new handshakes verify against its CAs, older connections are re-checked against them. */
  reload(cfg: RequestHeaderConfig): void {
    this.#requestHeader = cfg;
    this.#trusted = pemCertificates(cfg.caPem);
    this.#generation++;
  }

  /** Records that `socket` finished its handshake under the current CAs. */
  handshaken(socket: TLSSocket): void {
    this.#verifiedAt.set(socket, this.#generation);
  }

  async handle(req: IncomingMessage): Promise<HttpReply> {
    const url = new URL(req.url ?? '/', 'https://replica.invalid');
    if (req.method === 'GET' && isHealthPath(url.pathname)) return this.#health(url.pathname);
    const caller = this.#authenticate(req);
    if ('status' in caller) return caller;
    const discovery = DISCOVERY[url.pathname.replace(/\/$/, '')];
    if (discovery !== undefined && req.method === 'GET') return { status: 200, body: discovery };
    const target = parseResourcePath(url.pathname);
    if (target === undefined) return status(404, 'NotFound', `${url.pathname} is not part of ${REPLICA_API_VERSION}`);
    if (!isRead(req, url)) {
      return status(405, 'MethodNotAllowed', `${REPLICA_API_VERSION} threatindicators is the read-only view of the replicated set (get and list only); write or watch the working set instead: kubectl … ti (threatindicators.threatmesh.io)`);
    }
    const access: Access = { verb: target.name === undefined ? 'list' : 'get', namespace: target.namespace, ...(target.name !== undefined ? { name: target.name } : {}) };
    const refused = await this.#authorize(caller, access);
    if (refused !== undefined) return refused;
    return target.name === undefined ? this.#list(target.namespace, url.searchParams, req.headers.accept ?? '', caller) : this.#get(target.namespace, target.name);
  }

  // /readyz runs the readiness checks; /healthz and /livez answer while the process does.
  #health(pathname: string): HttpReply {
    return health(pathname === '/readyz' ? this.#o.readiness ?? [] : []);
  }

  // The front proxy's user, or the 401.
  #authenticate(req: IncomingMessage): Caller | HttpReply {
    const socket = req.socket as TLSSocket;
    const stale = this.#verifiedAt.get(socket) === this.#generation ? undefined : { stillTrusted: (s: TLSSocket) => issuedByOneOf(s.getPeerX509Certificate()!, this.#trusted, this.#o.now()) };
    const caller = authenticate(socket, req.headers, this.#requestHeader, stale);
    this.#o.metrics?.authentication.inc({ result: 'refused' in caller ? caller.reason : 'success' });
    return 'refused' in caller ? status(401, 'Unauthorized', caller.refused) : caller;
  }

  // Delegated authorization: undefined when allowed, else the 403 (or the 500 when the API server could not be asked).
  async #authorize(caller: Caller, access: Access): Promise<HttpReply | undefined> {
    let verdict: { allowed: boolean; reason: string };
    try {
      verdict = await this.#o.reviewer.allowed(caller, access);
    } catch (err) {
      this.#o.metrics?.authorization.inc({ decision: 'error' });
      this.#o.log.error('replica api authorization failed', { user: caller.user, verb: access.verb, namespace: access.namespace, err });
      return status(500, 'InternalError', `could not ask the API server whether "${caller.user}" may ${access.verb} threatindicators.${REPLICA_GROUP} (SubjectAccessReview failed); the replica API's ServiceAccount needs the system:auth-delegator ClusterRole (details in the server log)`);
    }
    this.#o.metrics?.authorization.inc({ decision: verdict.allowed ? 'allowed' : 'denied' });
    return verdict.allowed ? undefined : forbidden(caller, access, verdict.reason);
  }

  async #get(namespace: string, name: string): Promise<HttpReply> {
    const r = namespace === this.#o.namespace ? await this.#read('get', () => this.#o.records.byName(name)) : undefined;
    if (r === undefined) return status(404, 'NotFound', `threatindicators.${REPLICA_GROUP} "${name}" not found`);
    return { status: 200, body: replicaIndicator(r, this.#o.namespace, this.#o.now()) };
  }

  async #list(namespace: string, q: URLSearchParams, accept: string, caller: Caller): Promise<HttpReply> {
    const sel = parseSelectors(q);
    if ('refused' in sel) return status(400, 'BadRequest', sel.refused);
    if (!this.#holds(namespace, sel.namespace)) return this.#page([], {}, accept, false);
    const ofType = (o: ReplicaIndicator): boolean => sel.types === undefined || sel.types.includes(o.spec.type);
    if (sel.names !== undefined) return this.#named(sel, q, accept, ofType);
    const max = this.#o.maxLimit ?? 5000;
    const limit = Math.min(Number(q.get('limit') ?? '') || max, max);
    const token = q.get('continue') ?? undefined;
    let chunk: RecordChunk;
    try {
      chunk = await this.#read('list', () => this.#o.records.chunk(limit, token));
    } catch (err) {
      if (err instanceof ExpiredContinue) return status(410, 'Expired', err.message);
      throw err;
    }
    this.#o.log.debug('replica api list', { user: caller.user, namespace, returned: chunk.records.length, more: chunk.continueToken !== undefined });
    const items = chunk.records.map((r) => this.#view(r)).filter(ofType);
    return this.#page(items, { ...(chunk.continueToken !== undefined ? { continue: chunk.continueToken } : {}), ...(chunk.remaining !== undefined && chunk.continueToken !== undefined ? { remainingItemCount: chunk.remaining } : {}) }, accept, token !== undefined);
  }

  // A name-selected list: one set read (store/indicatornames.ts), sorted by name; `limit` pages it with a token naming the last name given.
  async #named(sel: Selection, q: URLSearchParams, accept: string, ofType: (o: ReplicaIndicator) => boolean): Promise<HttpReply> {
    const token = q.get('continue') ?? undefined;
    const after = token === undefined ? '' : namesAfter(token);
    if (after === undefined) return status(410, 'Expired', 'the continue token does not belong to a list selected by name; list again without it');
    const names = sel.names ?? [];
    const records = names.length === 0 ? [] : await this.#read('list', () => this.#o.records.byNames(names));
    const items = records.map((r) => this.#view(r)).filter((o) => ofType(o) && o.metadata.name > after);
    items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const max = this.#o.maxLimit ?? 5000;
    const limit = Math.max(1, Math.min(Number(q.get('limit') ?? '') || max, max));
    const page = items.slice(0, limit);
    const last = page.at(-1)?.metadata.name;
    const more = items.length > page.length && last !== undefined ? { continue: namesToken(last), remainingItemCount: items.length - page.length } : {};
    return this.#page(page, more, accept, token !== undefined);
  }

  // A database read; a failure other than an expired token counts as a database error of `operation`.
  async #read<T>(operation: DatabaseOperation, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ExpiredContinue)) this.#o.metrics?.databaseErrors.inc({ operation });
      throw err;
    }
  }

  #page(items: readonly ReplicaIndicator[], meta: { continue?: string; remainingItemCount?: number }, accept: string, continued: boolean): HttpReply {
    this.#o.metrics?.observeListPage(items.length, continued, meta.continue !== undefined);
    return this.#render(items, meta, accept);
  }

  // Whether a list of `namespace` ('' = all) narrowed by a metadata.namespace selector can hold the replica's namespace.
  #holds(namespace: string, selected: string | undefined): boolean {
    const mine = this.#o.namespace;
    return (namespace === '' || namespace === mine) && (selected === undefined || selected === mine);
  }

  #view(r: IndicatorRecord): ReplicaIndicator {
    return replicaIndicator(r, this.#o.namespace, this.#o.now());
  }

  #render(items: readonly ReplicaIndicator[], meta: { continue?: string; remainingItemCount?: number }, accept: string): HttpReply {
    const metadata = { resourceVersion: '', ...meta };
    if (!TABLE_ACCEPT.test(accept)) return { status: 200, body: { apiVersion: REPLICA_API_VERSION, kind: 'ThreatIndicatorList', metadata, items } };
    return {
      status: 200,
      body: {
        kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata, columnDefinitions: TABLE_COLUMNS,
        rows: items.map((o) => ({ cells: tableCells(o), object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } })),
      },
    };
  }
}

// Continue tokens of name-selected lists: `n.` and the last name given, base64url (no server state).
function namesToken(last: string): string {
  return `n.${Buffer.from(last).toString('base64url')}`;
}

function namesAfter(token: string): string | undefined {
  const m = /^n\.([A-Za-z0-9_-]{1,400})$/.exec(token);
  return m === null ? undefined : Buffer.from(m[1]!, 'base64url').toString();
}

const HEALTH_PATHS = new Set(['/healthz', '/readyz', '/livez']);

function isHealthPath(pathname: string): boolean {
  return HEALTH_PATHS.has(pathname);
}

// The probes' answer: ok, or 500 with every failed check (the kubelet takes the pod out of the Service).
function health(checks: readonly HealthCheck[]): HttpReply {
  const failed = checks.map((c) => [c.name, c.check()] as const).filter(([, r]) => r !== true);
  return failed.length === 0 ? { status: 200, body: 'ok' } : { status: 500, body: `${failed.map(([n, r]) => `[-]${n} failed: ${String(r)}`).join('\n')}\nnot ready\n` };
}

function isRead(req: IncomingMessage, url: URL): boolean {
  const watch = url.searchParams.get('watch');
  return req.method === 'GET' && watch !== 'true' && watch !== '1';
}

function forbidden(caller: Caller, access: Access, reason: string): HttpReply {
  const what = `threatindicators.${REPLICA_GROUP}${access.name !== undefined ? ` "${access.name}"` : ''}`;
  const where = access.namespace !== '' ? ` in the namespace "${access.namespace}"` : ' at the cluster scope';
  return status(403, 'Forbidden', `${what} is forbidden: User "${caller.user}" cannot ${access.verb} resource "threatindicators" in API group "${REPLICA_GROUP}"${where}${reason ? `: ${reason}` : ''}`);
}

function send(res: ServerResponse, reply: HttpReply): void {
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': typeof reply.body === 'string' ? 'text/plain' : 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

// Counts and times one request (health probes aside); the returned function records its code.
function measure(req: IncomingMessage, metrics: ReplicaApiMetrics | undefined): (code: number) => void {
  const url = new URL(req.url ?? '/', 'https://replica.invalid');
  if (metrics === undefined || isHealthPath(url.pathname)) return () => undefined;
  const started = process.hrtime.bigint();
  const { verb, resource } = classifyRequest(req.method, url.pathname, url.searchParams, PREFIX);
  metrics.inFlight.inc();
  return (code) => {
    metrics.inFlight.dec();
    metrics.observeRequest(verb, resource, code, Number(process.hrtime.bigint() - started) / 1e9);
  };
}

/** Starts the server on `host:port` (port 0 picks a free one). */
export async function startReplicaApi(opts: ReplicaApiOptions, host: string, port: number): Promise<RunningReplicaApi> {
  const api = new ReplicaApi(opts);
  const server: Server = outlastClientPools(createServer({ cert: opts.cert, key: opts.key, ca: opts.requestHeader.caPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    const done = measure(req, opts.metrics);
    api.handle(req).then((reply) => {
      // A refused connection may hold a certificate of a CA no longer trusted: make the client handshake again.
      if (reply.status === 401) res.setHeader('connection', 'close');
      send(res, reply);
    }, (err: unknown) => {
      opts.log.error('replica api request failed', { url: req.url?.slice(0, 300), err });
      send(res, status(500, 'InternalError', 'the replica database could not be read; retry (details in the server log)'));
    }).finally(() => done(res.statusCode));
  }));
  server.on('secureConnection', (socket: TLSSocket) => api.handshaken(socket));
  server.on('tlsClientError', (err) => {
    opts.metrics?.tlsHandshakeErrors.inc();
    opts.log.debug('replica api TLS handshake failed', { err });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  opts.log.info('replica api serving', { host, port: bound, group: REPLICA_API_VERSION, namespace: opts.namespace });
  return {
    port: bound,
    reloadRequestHeader: (cfg) => {
      server.setSecureContext({ cert: opts.cert, key: opts.key, ca: cfg.caPem, minVersion: 'TLSv1.2' });
      api.reload(cfg);
      server.closeIdleConnections();
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
