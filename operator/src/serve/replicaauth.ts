/**
 * Who calls the aggregated API, and whether they may (the delegation every aggregated API server
 * does, as k8s.io/apiserver's requestheader authenticator and delegated authorizer):
 *
 * - Authentication: only the cluster's front proxy is believed. A request counts only when its
 *   TLS client certificate verified against the request-header CA (the server's `ca`) and its
 *   common name is among the allowed names; then the user and groups are the X-Remote-* headers
 *   the proxy set. Anything else is anonymous and refused: headers of other clients are never read.
 * - Authorization: a SubjectAccessReview asks the API server whether that user may `verb`
 *   `threatindicators.replica.threatmesh.io` in the namespace; answers are cached for `ttlMs`
 *   (allowed and denied alike), so a kubectl list of many chunks costs one review.
 *
 * The request-header settings come from the `extension-apiserver-authentication` ConfigMap the
 * API server publishes in kube-system ({@link loadRequestHeaderConfig}); serve/replicatrust.ts
 * watches it and the server reloads them without a restart. A connection verified under a CA
 * that a reload removed is re-checked against the current CAs ({@link StaleCheck}).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { KubeClient } from '../runtime/client.ts';
import type { KubeObject, ResourceRef } from '../runtime/types.ts';
import { REPLICA_GROUP } from './replicaview.ts';

/** The front proxy's settings. */
export interface RequestHeaderConfig {
  /** PEM of the CA that signs the proxy's client certificate. */
  readonly caPem: string;
  /** Common names the proxy certificate may have; empty means any name the CA signed. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
}

/** The authenticated caller. */
export interface Caller {
  readonly user: string;
  readonly groups: readonly string[];
}

/** ConfigMaps (core/v1), where the front-proxy settings are published. */
export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const SAR: ResourceRef = { group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

function jsonList(text: string | undefined, fallback: readonly string[]): readonly string[] {
  if (text === undefined || text.trim() === '') return fallback;
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : fallback;
}

/** Where the API server publishes its front-proxy settings. */
export const REQUEST_HEADER_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

/**
 * The request-header settings of the `extension-apiserver-authentication` ConfigMap. Throws
 * with what to do when it names no request-header CA (no front proxy configured).
 */
export function requestHeaderConfigOf(cm: { data?: Record<string, string> } | undefined): RequestHeaderConfig {
  const caPem = cm?.data?.['requestheader-client-ca-file'];
  if (caPem === undefined || caPem.trim() === '') {
    throw new Error('the API server publishes no request-header CA (kube-system/extension-apiserver-authentication has no requestheader-client-ca-file): start kube-apiserver with --requestheader-client-ca-file and --proxy-client-cert-file/--proxy-client-key-file so it can call aggregated APIs');
  }
  const data = cm?.data ?? {};
  return {
    caPem,
    allowedNames: jsonList(data['requestheader-allowed-names'], []),
    usernameHeaders: jsonList(data['requestheader-username-headers'], ['X-Remote-User']),
    groupHeaders: jsonList(data['requestheader-group-headers'], ['X-Remote-Group']),
  };
}

/** Whether two request-header settings trust the same CAs, names and headers. */
export function sameRequestHeader(a: RequestHeaderConfig, b: RequestHeaderConfig): boolean {
  return a.caPem === b.caPem && [a.allowedNames, a.usernameHeaders, a.groupHeaders].every((list, i) => list.join('\n') === [b.allowedNames, b.usernameHeaders, b.groupHeaders][i]!.join('\n'));
}

/**
 * Reads the request-header settings from kube-system/extension-apiserver-authentication. Throws
 * with what to do when the API server has no front proxy configured.
 */
export async function loadRequestHeaderConfig(client: Pick<KubeClient, 'get'>): Promise<RequestHeaderConfig> {
  return requestHeaderConfigOf(await client.get<ConfigMap>(CONFIGMAPS, REQUEST_HEADER_CONFIGMAP.name, REQUEST_HEADER_CONFIGMAP.namespace));
}

/** The certificates of a PEM bundle (unparsable blocks are skipped). */
export function pemCertificates(bundle: string): X509Certificate[] {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((b) => {
    try {
      return [new X509Certificate(b)];
    } catch {
      return [];
    }
  });
}

/** Whether `cert` is valid at `now` and signed directly by one of `cas`. */
export function issuedByOneOf(cert: X509Certificate, cas: readonly X509Certificate[], now: Date): boolean {
  if (Date.parse(cert.validFrom) > now.getTime() || Date.parse(cert.validTo) < now.getTime()) return false;
  return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}

function header(headers: IncomingHttpHeaders, name: string): string[] {
  const v = headers[name.toLowerCase()];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Why a caller is not the front proxy (the `result` label of threatmesh_replica_api_authentication_total). */
export type AuthnRefusal = 'no-verified-certificate' | 'name-not-allowed' | 'no-user';

/** A refused caller: the message it gets (401) and the reason as a metric label. */
export interface Refused {
  readonly refused: string;
  readonly reason: AuthnRefusal;
}

/** The caller of a request on `socket`, or why it is refused (the front proxy alone may call). */
export function authenticate(socket: TLSSocket, headers: IncomingHttpHeaders, cfg: RequestHeaderConfig, stale?: StaleCheck): Caller | Refused {
  if (socket.authorized && stale !== undefined && !stale.stillTrusted(socket)) {
    return { refused: 'the client certificate was verified against a request-header CA that is no longer trusted (kube-system/extension-apiserver-authentication changed); reconnect', reason: 'no-verified-certificate' };
  }
  if (!socket.authorized) return { refused: 'only the Kubernetes API server may call this API (no client certificate signed by the request-header CA); use kubectl get threatindicators through the cluster', reason: 'no-verified-certificate' };
  const cn = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (cfg.allowedNames.length > 0 && (name === undefined || !cfg.allowedNames.includes(name))) {
    return { refused: `client certificate CN ${JSON.stringify(name ?? '')} is not an allowed front-proxy name`, reason: 'name-not-allowed' };
  }
  const user = cfg.usernameHeaders.flatMap((h) => header(headers, h))[0];
  if (user === undefined || user === '') return { refused: 'the front proxy sent no user', reason: 'no-user' };
  return { user, groups: cfg.groupHeaders.flatMap((h) => header(headers, h)).flatMap((g) => g.split(',').map((s) => s.trim())).filter((g) => g !== '') };
}

/** For a connection whose handshake predates the current request-header CA: whether its certificate is still trusted. */
export interface StaleCheck {
  stillTrusted(socket: TLSSocket): boolean;
}

/** What a caller asks to do. */
export interface Access {
  readonly verb: 'get' | 'list';
  /** '' for all namespaces. */
  readonly namespace: string;
  readonly name?: string;
}

interface Review extends KubeObject {
  spec: unknown;
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

/** Delegated authorization with a small cache. */
export class AccessReviewer {
  readonly #client: Pick<KubeClient, 'create'>;
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { allowed: boolean; reason: string; at: number }>();

  /** `ttlMs` @default 10000 */
  constructor(client: Pick<KubeClient, 'create'>, now: () => number, ttlMs = 10_000) {
    this.#client = client;
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  /** Whether `caller` may do `access`, and the API server's reason. */
  async allowed(caller: Caller, access: Access): Promise<{ allowed: boolean; reason: string }> {
    const key = JSON.stringify([caller.user, [...caller.groups].sort(), access.verb, access.namespace, access.name ?? '']);
    const hit = this.#cache.get(key);
    if (hit !== undefined && this.#now() - hit.at < this.#ttlMs) return hit;
    const review = await this.#client.create<Review>(SAR, {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: { name: '' },
      spec: {
        user: caller.user, groups: [...caller.groups],
        resourceAttributes: { group: REPLICA_GROUP, resource: 'threatindicators', verb: access.verb, ...(access.namespace !== '' ? { namespace: access.namespace } : {}), ...(access.name !== undefined ? { name: access.name } : {}) },
      },
    });
    const answer = { allowed: review.status?.allowed === true && review.status.denied !== true, reason: review.status?.reason ?? '', at: this.#now() };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(key, answer);
    return answer;
  }
}
