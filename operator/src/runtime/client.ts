/**
 * Small composable client interfaces over the Kubernetes REST API (controller-runtime style:
 * Reader / Writer / StatusWriter instead of one god-client). The HTTPS implementation lives in
 * kube.ts; reconcilers depend only on these interfaces.
 */
import type { CacheReader, KubeObject, ResourceRef } from './types.ts';

/** A Kubernetes API error with its HTTP status and Status reason (e.g. 404 NotFound, 409 Conflict, 410 Gone). */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** A page of a list call. */
export interface ObjectList<T extends KubeObject> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

/** One watch event. BOOKMARK carries only metadata.resourceVersion; ERROR carries a Status (410 Gone → re-list). */
export interface WatchEvent<T extends KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Options of list and watch calls. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  /** Ends the request when aborted (an informer's stop); a list, get or write otherwise waits for the client's request timeout. @default none */
  signal?: AbortSignal;
}

/** Reads objects straight from the API server (not the cache). */
export interface KubeReader {
  get<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined>;
  list<T extends KubeObject>(ref: ResourceRef, opts?: ListOptions): Promise<ObjectList<T>>;
  /** Streams watch events until `signal` aborts or the server closes the stream. */
  watch<T extends KubeObject>(ref: ResourceRef, opts: ListOptions & { allowWatchBookmarks?: boolean; timeoutSeconds?: number }, signal: AbortSignal): AsyncIterable<WatchEvent<T>>;
}

/** Every object `opts` selects, read page by page (`pageSize` per request; `limit`/`continue` in `opts` are ignored). */
export async function listAll<T extends KubeObject>(client: Pick<KubeReader, 'list'>, ref: ResourceRef, opts: ListOptions = {}, pageSize = 500): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await client.list<T>(ref, { ...opts, limit: pageSize, ...(cont ? { continue: cont } : {}) });
    out.push(...page.items);
    cont = page.metadata.continue;
  } while (cont);
  return out;
}

/** Which objects {@link listFrom} returns: one namespace, and optionally only those carrying every label of `labels`. */
export interface Selection {
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The objects of `ref` that `sel` selects: from `cache` (an informer of `ref`, no API request)
 * when given, else listed page by page from the API server.
 */
export async function listFrom<T extends KubeObject>(cache: CacheReader<T> | undefined, client: Pick<KubeReader, 'list'>, ref: ResourceRef, sel: Selection): Promise<ReadonlyArray<Readonly<T>>> {
  const labels = Object.entries(sel.labels ?? {});
  if (cache === undefined) return listAll<T>(client, ref, { namespace: sel.namespace, ...(labels.length > 0 ? { labelSelector: labels.map(([k, v]) => `${k}=${v}`).join(',') } : {}) });
  const all = cache.list(sel.namespace);
  return labels.length === 0 ? all : all.filter((o) => labels.every(([k, v]) => o.metadata.labels?.[k] === v));
}

/** Creates, updates, patches and deletes objects. */
export interface KubeWriter {
  create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  /** Full update guarded by metadata.resourceVersion (409 Conflict when stale). */
  update<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  /** JSON merge patch (application/merge-patch+json). */
  patch<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T>;
  /** Server-side apply with the given field manager. */
  apply<T extends KubeObject>(ref: ResourceRef, obj: T, fieldManager: string): Promise<T>;
  /**
   * Deletes the object; resolves when it is gone already (404). With `preconditions` the API
   * server deletes only the object of that uid at that resourceVersion, else answers 409 Conflict
   * (someone wrote or recreated it since it was read).
   */
  delete(ref: ResourceRef, name: string, namespace?: string, opts?: DeleteOptions): Promise<void>;
}

/** Delete options that delete `obj` only as it was read: its uid and resourceVersion, where known, as preconditions. */
export function asRead(obj: Pick<KubeObject, 'metadata'>): DeleteOptions {
  const { uid, resourceVersion } = obj.metadata;
  return { preconditions: { ...(uid !== undefined ? { uid } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}) } };
}

/** Options of {@link KubeWriter.delete} (the fields of a Kubernetes DeleteOptions the operator uses). */
export interface DeleteOptions {
  readonly propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  /** Delete only this version of the object: a changed one answers 409 Conflict. @default none (any version) */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

/** Writes the status subresource. */
export interface StatusWriter {
  updateStatus<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  patchStatus<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T>;
}

/** The whole client, for wiring; depend on the narrow interfaces above where you can. */
export interface KubeClient extends KubeReader, KubeWriter, StatusWriter {}
