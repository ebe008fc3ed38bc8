/**
 * Prometheus metrics and readiness of the aggregated replica API (serve/replicaapi.ts), on a
 * Registry of its own, served by `threatmesh replica-api --metrics-bind` on a plain HTTP listener
 * apart from the HTTPS port the aggregator calls (runtime/health.ts: /metrics, /healthz, /readyz).
 *
 * Names follow kube-apiserver's (`apiserver_request_total`, `…_request_duration_seconds` by
 * verb, resource and code) under the `threatmesh_replica_api_` prefix, so the usual API server
 * panels and SLO queries apply. Every label value is from a fixed set: nothing a caller sends
 * (paths, names, users) becomes a label.
 *
 * The alerts and dashboard panels that read these are in cdk8s/lib/alerts.ts; the runbook is
 * docs/deploy.md "Replica API metrics and alerts".
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { monotonicNow, type Clock, type TimerHandle } from '../runtime/clock.ts';
import type { HealthCheck } from '../runtime/health.ts';
import { RepeatedFailureLog } from '../runtime/repeatlog.ts';
import type { AuthnRefusal } from './replicaauth.ts';

/** The `verb` label: Kubernetes request verbs (the API serves get and list; the others are refused). */
export const REPLICA_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'other'] as const;
/** One of REPLICA_VERBS. */
export type ReplicaVerb = typeof REPLICA_VERBS[number];

/** The `resource` label: the served resource, discovery documents, or a path of nothing. */
export type ReplicaResource = 'threatindicators' | 'discovery' | 'unknown';

/** The `result` label of authentication: success, or why the caller was not the front proxy. */
export const AUTHN_RESULTS: readonly ('success' | AuthnRefusal)[] = ['success', 'no-verified-certificate', 'name-not-allowed', 'no-user'];

/** The `decision` label of delegated authorization (SubjectAccessReview, or its cached answer). */
export const AUTHZ_DECISIONS = ['allowed', 'denied', 'error'] as const;

/** The `operation` label of database errors. */
export const DATABASE_OPERATIONS = ['get', 'list', 'ping'] as const;
/** One of DATABASE_OPERATIONS. */
export type DatabaseOperation = typeof DATABASE_OPERATIONS[number];

/** Request latency buckets (seconds): the SLO alert reads the 1 s (get) and 5 s (list) bounds. */
export const REPLICA_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Every metric of the replica API. */
export class ReplicaApiMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'verb' | 'resource' | 'code'>;
  readonly duration: Histogram<'verb' | 'resource' | 'code'>;
  readonly inFlight: Gauge;
  /** Objects per list response (one page of a chunked list). */
  readonly listItems: Histogram;
  /** List pages served: the first page or a `continue` one, and whether it handed out a token. */
  readonly listPages: Counter<'page' | 'more'>;
  readonly authentication: Counter<'result'>;
  readonly tlsHandshakeErrors: Counter;
  readonly authorization: Counter<'decision'>;
  readonly databaseErrors: Counter<'operation'>;
  /** Front-proxy trust reloads (serve/replicatrust.ts): applied, or refused (the ConfigMap named no CA). */
  readonly requestHeaderReloads: Counter<'result'>;
  readonly ready: Gauge;
  /** 1 when the partner database answered the last ping (DatabaseReadiness), else 0. */
  readonly databaseUp: Gauge;
  /** List cursors kept open for `continue` tokens (store/indicatorpages.ts; at its maximum, the oldest token expires). */
  readonly openLists: Gauge;
  #openLists: (() => number) | undefined;

  /**
   * @param readiness checks behind the `threatmesh_replica_api_ready` gauge (1 when all pass, read at each scrape)
   * @param registry where the metrics are registered; a fresh Registry when omitted
   */
  constructor(readiness: () => readonly HealthCheck[], registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    const p = 'threatmesh_replica_api';
    this.requests = new Counter({ name: `${p}_requests_total`, help: 'Requests to the aggregated replica API by verb, resource and HTTP code (health probes not counted)', labelNames: ['verb', 'resource', 'code'], registers });
    this.duration = new Histogram({ name: `${p}_request_duration_seconds`, help: 'Latency of replica API requests by verb, resource and HTTP code, from the request to the answer handed to the socket', labelNames: ['verb', 'resource', 'code'], buckets: REPLICA_LATENCY_BUCKETS, registers });
    this.inFlight = new Gauge({ name: `${p}_requests_in_flight`, help: 'Replica API requests being answered', registers });
    this.listItems = new Histogram({ name: `${p}_list_items`, help: 'ThreatIndicators per list response (one page of a chunked list)', buckets: [0, 1, 10, 100, 500, 1000, 2500, 5000], registers });
    this.listPages = new Counter({ name: `${p}_list_pages_total`, help: 'List pages served: page first or continued (asked with a continue token), more true when the page handed out a continue token', labelNames: ['page', 'more'], registers });
    this.authentication = new Counter({ name: `${p}_authentication_total`, help: 'Front-proxy authentication of requests by result (success, or why the caller is not the cluster\'s front proxy)', labelNames: ['result'], registers });
    this.tlsHandshakeErrors = new Counter({ name: `${p}_tls_handshake_errors_total`, help: 'TLS connections to the replica API that failed before a request (not TLS, protocol or cipher mismatch, aborted handshakes)', registers });
    this.authorization = new Counter({ name: `${p}_authorization_total`, help: 'Delegated authorization (SubjectAccessReview, or its cached answer) by decision; error when the API server could not be asked', labelNames: ['decision'], registers });
    this.databaseErrors = new Counter({ name: `${p}_database_errors_total`, help: 'Partner database reads that failed, by operation (get, list, ping of the readiness check)', labelNames: ['operation'], registers });
    this.requestHeaderReloads = new Counter({ name: `${p}_front_proxy_trust_reloads_total`, help: 'Changes of kube-system/extension-apiserver-authentication (front-proxy CA, allowed names, headers) by result: applied without a restart, or refused (no request-header CA; the previous trust stays)', labelNames: ['result'], registers });
    this.ready = new Gauge({
      name: `${p}_ready`, help: '1 when every readiness check of the replica API passes (/readyz: the database has answered since the process started), else 0', registers,
      collect() {
        this.set(readiness().every((c) => c.check() === true) ? 1 : 0);
      },
    });
    this.databaseUp = new Gauge({ name: `${p}_database_up`, help: '1 when the partner database answered the last ping (one every 10 s), else 0', registers });
    const lists = (): number => this.#openLists?.() ?? 0;
    this.openLists = new Gauge({
      name: `${p}_open_lists`, help: 'List cursors kept open for continue tokens; at the reader\'s maximum the oldest token expires (410)', registers,
      collect() {
        this.set(lists());
      },
    });
    this.#zero();
  }

  /** Reads the open list cursors at each scrape from `count` (IndicatorPages.openCount). */
  countOpenLists(count: () => number): void {
    this.#openLists = count;
  }

  // Series at zero before any request, as controller-runtime reports its own: alerts and panels see them from the start.
  #zero(): void {
    for (const verb of ['get', 'list'] as const) {
      for (const code of ['200', '500']) this.requests.inc({ verb, resource: 'threatindicators', code }, 0);
      this.duration.zero({ verb, resource: 'threatindicators', code: '200' });
    }
    for (const page of ['first', 'continued']) for (const more of ['true', 'false']) this.listPages.inc({ page, more }, 0);
    for (const result of AUTHN_RESULTS) this.authentication.inc({ result }, 0);
    for (const decision of AUTHZ_DECISIONS) this.authorization.inc({ decision }, 0);
    for (const operation of DATABASE_OPERATIONS) this.databaseErrors.inc({ operation }, 0);
    for (const result of ['applied', 'refused']) this.requestHeaderReloads.inc({ result }, 0);
    this.databaseUp.set(0);
  }

  /** Records one answered request. */
  observeRequest(verb: ReplicaVerb, resource: ReplicaResource, code: number, seconds: number): void {
    const labels = { verb, resource, code: String(code) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }

  /** Records one list page of `items` objects; `continued` when asked with a token, `more` when it handed one out. */
  observeListPage(items: number, continued: boolean, more: boolean): void {
    this.listItems.observe(items);
    this.listPages.inc({ page: continued ? 'continued' : 'first', more: String(more) });
  }

  /** The text exposition served on /metrics (runtime/health.ts HealthServer). */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

// What a path names under the API's prefix: the resource, and whether one object of it.
function target(pathname: string, prefix: string): { resource: ReplicaResource; named: boolean } {
  const under = pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length + 1).split('/') : [];
  // threatindicators[/NAME] or namespaces/NS/threatindicators[/NAME]
  const at = under[0] === 'threatindicators' ? 0 : under[2] === 'threatindicators' ? 2 : -1;
  if (at >= 0) return { resource: 'threatindicators', named: under.length > at + 1 && under[under.length - 1] !== '' };
  const path = pathname.replace(/\/$/, '');
  const discovery = path === '/apis' || path === prefix || path === prefix.slice(0, prefix.lastIndexOf('/'));
  return { resource: discovery ? 'discovery' : 'unknown', named: false };
}

const WRITE_VERBS: Readonly<Record<string, ReplicaVerb>> = { POST: 'create', PUT: 'update', PATCH: 'patch' };

/** The verb and resource of a request, from its method and path only (before authentication), as kube-apiserver names them. */
export function classifyRequest(method: string | undefined, pathname: string, query: URLSearchParams, resourcePrefix: string): { verb: ReplicaVerb; resource: ReplicaResource } {
  const { resource, named } = target(pathname, resourcePrefix);
  if (method === 'GET') {
    const watch = query.get('watch') === 'true' || query.get('watch') === '1';
    return { verb: watch ? 'watch' : named || resource !== 'threatindicators' ? 'get' : 'list', resource };
  }
  if (method === 'DELETE') return { verb: named ? 'delete' : 'deletecollection', resource };
  return { verb: WRITE_VERBS[method ?? ''] ?? 'other', resource };
}

/** Options of {@link DatabaseReadiness}. */
export interface DatabaseReadinessOptions {
  /** One round trip to the database (MongoDB `ping`); rejects when it is unreachable. */
  readonly ping: () => Promise<unknown>;
  readonly clock: Clock;
  readonly metrics?: ReplicaApiMetrics;
  /**
   * Where a lost and a regained database are logged: once when pings start failing or their cause
   * changes, a reminder every 5 minutes while it lasts, once when one is answered again
   * (runtime/repeatlog.ts). @default not logged
   */
  readonly log?: Logger;
  /** Time between pings. @default 10000 */
  readonly intervalMs?: number;
}

/**
 * Pings the partner database every `intervalMs`. The readiness check `database` passes once a
 * ping was answered and stays passing: a pod that never reached the database (a wrong URI or
 * Secret in a rollout) is kept out of the Service, but a database outage does not take every
 * pod out, which would make the APIService unavailable and stall namespace deletion in the whole
 * cluster while no other backend could answer anyway. The last ping's result is the gauge
 * `threatmesh_replica_api_database_up` (the alert ThreatMeshReplicaApiDatabaseUnreachable); a
 * failed ping counts in `threatmesh_replica_api_database_errors_total{operation="ping"}`.
 */
export class DatabaseReadiness {
  readonly #o: DatabaseReadinessOptions;
  #state: true | string = 'the partner database has not answered a ping yet';
  #lastError = '';
  readonly #failures: RepeatedFailureLog | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(opts: DatabaseReadinessOptions) {
    this.#o = opts;
    // Durations on the clock that never steps, so a wall clock set back does not delay a reminder.
    this.#failures = opts.log && new RepeatedFailureLog(opts.log, () => monotonicNow(opts.clock));
  }

  /** The readiness check (runtime/health.ts): true once the database answered a ping. */
  readonly check: HealthCheck = { name: 'database', check: () => this.#state };

  /** Why the last ping failed; '' when it was answered. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Pings now and then every interval until stop(). */
  start(): void {
    this.#stopped = false;
    void this.#tick();
  }

  /** One ping; resolves when it is answered or failed. */
  async probe(): Promise<void> {
    try {
      await this.#o.ping();
      this.#failures?.recovered('ping', 'partner database answers again');
      this.#state = true;
      this.#lastError = '';
      this.#o.metrics?.databaseUp.set(1);
    } catch (err) {
      this.#o.metrics?.databaseErrors.inc({ operation: 'ping' });
      this.#o.metrics?.databaseUp.set(0);
      this.#lastError = err instanceof Error ? err.message : String(err);
      this.#failures?.failed('ping', this.#lastError, 'partner database did not answer a ping', { err });
      if (this.#state !== true) this.#state = `the partner database has not answered a ping yet: ${this.#lastError}`;
    }
  }

  async #tick(): Promise<void> {
    await this.probe();
    if (!this.#stopped) this.#timer = this.#o.clock.setTimer(() => void this.#tick(), this.#o.intervalMs ?? 10_000);
  }

  /** Stops pinging. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}
