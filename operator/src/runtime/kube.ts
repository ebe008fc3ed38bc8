/**
 * The HTTPS implementation of KubeClient over node:https with a keep-alive agent: JSON requests
 * with a client-side timeout, API errors decoded from the Status body, watches streamed as
 * newline-delimited JSON, server-side apply, merge patches and the status subresource.
 * TLS material and authentication come from @kubernetes/client-node's KubeConfig
 * (`applyToHTTPSOptions` before every request: exec plugins, OIDC, rotating token files); the
 * connections, keep-alive agent, timeouts and watch handling are this file's.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, type DeleteOptions, type KubeClient, type ListOptions, type ObjectList, type WatchEvent } from './client.ts';
import { kubeConfigOf, type ClusterConfig } from './kubeconfig.ts';
import type { KubeObject, ResourceRef } from './types.ts';

/** Options of KubeHttpClient. */
export interface KubeHttpOptions {
  /** Client-side limit for one non-watch request. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** User-Agent header. @default 'threatmesh' */
  readonly userAgent?: string;
  /** Keep-alive sockets per host. @default 32 */
  readonly maxSockets?: number;
}

/** One raw request. */
interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Destroy the connection after this long without any bytes (for watches). */
  readonly idleTimeoutMs?: number;
}

/** Builds the REST path of `ref`, e.g. /apis/threatmesh.io/v1alpha1/namespaces/ns/feeds/name/status. */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const n = name !== undefined ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${ref.plural}${n}${sub}`;
}

/** A KubeClient talking HTTPS (or plain HTTP for an http:// server) to one API server. */
export class KubeHttpClient implements KubeClient {
  private readonly config: ClusterConfig;
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly maxSockets: number;
  private kubeConfig: Promise<KubeConfig> | undefined;
  /** The keep-alive agent and the TLS material it was made with (an exec plugin may hand out a new client certificate). */
  private current: { agent: http.Agent; tls: TlsMaterial } | undefined;

  constructor(config: ClusterConfig, opts: KubeHttpOptions = {}) {
    this.config = config;
    this.base = new URL(config.server);
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'threatmesh';
    this.maxSockets = opts.maxSockets ?? 32;
  }

  /** Closes idle keep-alive sockets; open watches end through their abort signals. */
  close(): void {
    this.current?.agent.destroy();
  }

  /** Connections currently carrying a request or a watch (not idle keep-alive ones). */
  openConnections(): number {
    return Object.values(this.current?.agent.sockets ?? {}).reduce((n, list) => n + (list?.length ?? 0), 0);
  }

  /**
   * Resets every open connection (watches included) as a network failure would; new requests
   * open new connections. For fault-injection in tests and the sandbox.
   */
  dropConnections(): number {
    const agent = this.current?.agent;
    if (agent === undefined) return 0;
    let n = 0;
    for (const list of [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)]) {
      for (const s of list ?? []) {
        s.destroy();
        n += 1;
      }
    }
    return n;
  }

  async get<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.json<T>({ method: 'GET', path: resourcePath(ref, namespace, name) });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(ref: ResourceRef, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return this.json<ObjectList<T>>({ method: 'GET', path: resourcePath(ref, opts.namespace), query: listQuery(opts), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  async *watch<T extends KubeObject>(ref: ResourceRef, opts: ListOptions & { allowWatchBookmarks?: boolean; timeoutSeconds?: number }, signal: AbortSignal): AsyncIterable<WatchEvent<T>> {
    const query = { ...listQuery(opts), watch: true, allowWatchBookmarks: opts.allowWatchBookmarks, timeoutSeconds: opts.timeoutSeconds };
    let res: http.IncomingMessage;
    try {
      // A silently dead connection never ends; the server closes after timeoutSeconds and sends
      // bookmarks about once a minute, so a longer silence means the peer is gone.
      const idleTimeoutMs = ((opts.timeoutSeconds ?? 1800) + 90) * 1000;
      res = await this.open({ method: 'GET', path: resourcePath(ref, opts.namespace), query, signal, idleTimeoutMs });
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    try {
      if ((res.statusCode ?? 0) >= 300) throw toApiError(res.statusCode ?? 0, await readBody(res));
      res.setEncoding('utf8');
      let buf = '';
      for await (const chunk of res as AsyncIterable<string>) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    } finally {
      res.destroy();
    }
  }

  create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.json<T>({ method: 'POST', path: resourcePath(ref, obj.metadata.namespace), body: obj });
  }

  update<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.json<T>({ method: 'PUT', path: resourcePath(ref, obj.metadata.namespace, obj.metadata.name), body: obj });
  }

  patch<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T> {
    return this.json<T>({ method: 'PATCH', path: resourcePath(ref, namespace, name), body: patch, contentType: 'application/merge-patch+json' });
  }

  apply<T extends KubeObject>(ref: ResourceRef, obj: T, fieldManager: string): Promise<T> {
    return this.json<T>({
      method: 'PATCH',
      path: resourcePath(ref, obj.metadata.namespace, obj.metadata.name),
      query: { fieldManager, force: true },
      body: obj,
      // JSON is YAML, so the apply-patch+yaml content type accepts a JSON body.
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** Deletes the object; resolves also when it is already gone (404), so cleanups stay idempotent; a failed precondition is a 409 {@link ApiError}. */
  async delete(ref: ResourceRef, name: string, namespace?: string, opts?: DeleteOptions): Promise<void> {
    try {
      await this.json({ method: 'DELETE', path: resourcePath(ref, namespace, name), body: { kind: 'DeleteOptions', apiVersion: 'v1', ...opts } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      throw err;
    }
  }

  updateStatus<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.json<T>({ method: 'PUT', path: resourcePath(ref, obj.metadata.namespace, obj.metadata.name, 'status'), body: obj });
  }

  patchStatus<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T> {
    return this.json<T>({ method: 'PATCH', path: resourcePath(ref, namespace, name, 'status'), body: patch, contentType: 'application/merge-patch+json' });
  }

  /**
   * Finds the ResourceRef of `kind` in `apiVersion` through API discovery
   * (GET /api/v1 or /apis/group/version). Throws when the server does not serve it.
   */
  async discover(apiVersion: string, kind: string): Promise<ResourceRef> {
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    const list = await this.json<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>({ method: 'GET', path });
    const r = list.resources?.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new Error(`the API server does not serve kind ${kind} in ${apiVersion}; are its CRDs installed?`);
    return { group, version, plural: r.name, kind, namespaced: r.namespaced };
  }

  /** Sends a request and decodes the JSON answer; errors become ApiError. */
  async json<T>(req: RawRequest): Promise<T> {
    const signal = req.signal ? AbortSignal.any([req.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs);
    let res: http.IncomingMessage;
    let body: string;
    try {
      res = await this.open({ ...req, signal });
      body = await readBody(res);
    } catch (err) {
      if (signal.aborted && !req.signal?.aborted) {
        throw new Error(`${req.method} ${req.path}: no answer from ${this.config.server} within ${this.timeoutMs} ms`, { cause: err });
      }
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status >= 300) throw toApiError(status, body);
    return (body ? JSON.parse(body) : {}) as T;
  }

  private async open(req: RawRequest): Promise<http.IncomingMessage> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + req.path, this.base);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const conn = await this.connection();
    const headers: Record<string, string> = { ...conn.headers, accept: 'application/json', 'user-agent': this.userAgent };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const r = mod.request(url, { method: req.method, headers, agent: conn.agent, signal: req.signal, ...(conn.auth !== undefined ? { auth: conn.auth } : {}) }, resolve);
      r.on('error', reject);
      if (req.idleTimeoutMs !== undefined) {
        const ms = req.idleTimeoutMs;
        r.setTimeout(ms, () => r.destroy(new Error(`${req.method} ${req.path}: no data from ${this.config.server} for ${ms} ms`)));
      }
      r.end(payload);
    });
  }

  /** Authentication headers and the agent for one request, from client-node's KubeConfig. */
  private async connection(): Promise<Connection> {
    this.kubeConfig ??= kubeConfigOf(this.config);
    const kc = await this.kubeConfig;
    const o: https.RequestOptions = { headers: {} };
    try {
      await kc.applyToHTTPSOptions(o);
    } catch (err) {
      throw new Error(`cannot authenticate to ${this.config.server} with ${this.config.source}: ${credentialError(err, kc.getCurrentUser()?.exec !== undefined)}`, { cause: err });
    }
    const headers: Record<string, string> = {};
    // Token files often end in a newline, which is not allowed in a header.
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v).trim();
    const auth = typeof o.auth === 'string' ? o.auth : undefined;
    // A proxy-url cluster needs client-node's proxy agent; otherwise our keep-alive agent.
    if (kc.getCurrentCluster()?.proxyUrl) return { headers, agent: o.agent as http.Agent, auth };
    return { headers, agent: this.agentFor(tlsOf(o)), auth };
  }

  private agentFor(tls: TlsMaterial): http.Agent {
    if (this.current !== undefined && sameTls(this.current.tls, tls)) return this.current.agent;
    const agentOpts = { keepAlive: true, maxSockets: this.maxSockets };
    const agent = this.base.protocol === 'http:'
      ? new http.Agent(agentOpts)
      : new https.Agent({ ...agentOpts, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, ...(tls.servername !== undefined ? { servername: tls.servername } : {}) });
    // The old agent's open connections (watches) finish on their own; its idle ones go now.
    const old = this.current?.agent;
    this.current = { agent, tls };
    if (old !== undefined) for (const list of Object.values(old.freeSockets)) for (const sock of list ?? []) sock.destroy();
    return agent;
  }
}

/** What one request needs besides the URL: auth headers, the agent, user:password for basic auth. */
interface Connection {
  readonly headers: Record<string, string>;
  readonly agent: http.Agent;
  readonly auth: string | undefined;
}

/** The TLS settings an agent is made with. */
interface TlsMaterial {
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
  readonly servername: string | undefined;
}

function pemOf(v: unknown): Buffer | undefined {
  if (Buffer.isBuffer(v)) return v;
  return typeof v === 'string' ? Buffer.from(v) : undefined;
}

function tlsOf(o: https.RequestOptions): TlsMaterial {
  return { ca: pemOf(o.ca), cert: pemOf(o.cert), key: pemOf(o.key), rejectUnauthorized: o.rejectUnauthorized !== false, servername: o.servername ?? undefined };
}

function sameBuf(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

function sameTls(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.rejectUnauthorized === b.rejectUnauthorized && a.servername === b.servername && sameBuf(a.ca, b.ca) && sameBuf(a.cert, b.cert) && sameBuf(a.key, b.key);
}

/** client-node's auth failures, said plainly (an exec plugin's failure arrives as its bare stderr). */
function credentialError(err: unknown, exec: boolean): string {
  const text = err instanceof Error ? err.message.trim() : String(err);
  if (!exec) return text;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT' && e.syscall?.startsWith('spawn') === true) return `the exec credential plugin ${e.path ?? ''} was not found; install it or fix users[].user.exec.command in the kubeconfig`;
  if (err instanceof SyntaxError) return `the exec credential plugin did not print an ExecCredential as JSON (${text})`;
  return `the exec credential plugin failed: ${text || '(no message)'}; run the kubeconfig user's exec command yourself to see why (you may need to log in again)`;
}

function listQuery(opts: ListOptions): Record<string, string | number | undefined> {
  return {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    limit: opts.limit,
    continue: opts.continue,
    resourceVersion: opts.resourceVersion,
  };
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Decodes a metav1.Status body (or any text) into an ApiError. */
export function toApiError(status: number, body: string): ApiError {
  try {
    const s = JSON.parse(body) as { kind?: string; reason?: string; message?: string; code?: number };
    if (s.kind === 'Status') return new ApiError(s.code ?? status, s.reason ?? '', s.message ?? body);
  } catch {
    // Not JSON (a proxy page or plain text): keep the text.
  }
  return new ApiError(status, '', body.slice(0, 500) || `HTTP ${status}`);
}
