/**
 * Test fixtures for the controllers (after kube-rs `fixtures.rs`): builders for Feed,
 * ThreatIndicator and PartnerNode objects, a recording in-memory client implementing the narrow
 * client interfaces, an event recorder and a settable clock. Used only by tests.
 */
import { ApiError, type DeleteOptions, type KubeClient, type ListOptions, type ObjectList, type WatchEvent } from '../runtime/client.ts';
import type { Context, EventRecorder, KubeObject, ResourceRef } from '../runtime/types.ts';
import { createLogger } from '../log.ts';
import { Writable } from 'node:stream';
import { API_VERSION } from '../api/schemas/index.ts';
import type { Feed, FeedSpec, PartnerNode, PartnerNodeSpec, RevocationRecord, ThreatIndicator, ThreatIndicatorSpec, VoteRecord } from '../api/types.ts';
import { signProposal, voteSubject } from '../domain/entry.ts';
import { signVote } from '../domain/quorum.ts';
import { indicatorDigest } from '../domain/canonical.ts';
import { SigningKey } from '../domain/signature.ts';

/** A clock tests move by hand. */
export class TestClock {
  private t: number;
  constructor(iso = '2026-11-25T12:00:00Z') {
    this.t = Date.parse(iso);
  }
  /** The current instant. */
  readonly now = (): Date => new Date(this.t);
  /** Moves the clock forward. */
  advance(ms: number): void {
    this.t += ms;
  }
  /** Sets the clock. */
  set(iso: string): void {
    this.t = Date.parse(iso);
  }
}

/** One recorded Event. */
export interface RecordedEvent { readonly kind: string; readonly name: string; readonly type: string; readonly reason: string; readonly message: string }

/** An EventRecorder that keeps what it was given. */
export class RecordingRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.events.push({ kind: obj.kind, name: obj.metadata.name, type, reason, message });
    return Promise.resolve();
  }
}

/** A reconcile Context with a silent logger, the given clock and a recording event recorder. */
export function testContext(clock: TestClock, recorder = new RecordingRecorder()): Context & { recorder: RecordingRecorder } {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return { log: createLogger(sink, 'error'), now: clock.now, recorder };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * An in-memory object store implementing KubeClient closely enough for reconciler tests:
 * resourceVersion and generation bookkeeping, merge patches, 404/409 ApiErrors, and a log of
 * every write. It is not an API server: no admission, no CEL, no watch.
 */
export class MemoryKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly writes: Array<{ verb: string; plural: string; name: string; subresource?: string }> = [];
  private rv = 1;
  private uid = 1;

  private k(ref: ResourceRef, name: string, ns?: string): string {
    return `${ref.plural}/${ns ?? ''}/${name}`;
  }

  /** Puts an object in the store as if it had been created. */
  seed<T extends KubeObject>(ref: ResourceRef, obj: T): T {
    const stored = structuredClone(obj);
    stored.metadata.uid ??= `uid-${this.uid++}`;
    stored.metadata.resourceVersion = String(this.rv++);
    stored.metadata.generation ??= 1;
    this.objects.set(this.k(ref, obj.metadata.name, obj.metadata.namespace), stored);
    return structuredClone(stored);
  }

  /** The stored object, or undefined. */
  peek<T extends KubeObject>(ref: ResourceRef, name: string, ns?: string): T | undefined {
    const o = this.objects.get(this.k(ref, name, ns));
    return o ? (structuredClone(o) as T) : undefined;
  }

  get<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    return Promise.resolve(this.peek<T>(ref, name, namespace));
  }

  list<T extends KubeObject>(ref: ResourceRef, opts?: ListOptions): Promise<ObjectList<T>> {
    const prefix = `${ref.plural}/${opts?.namespace ?? ''}`;
    const sel = (opts?.labelSelector ?? '').split(',').filter((s) => s !== '').map((s) => s.split('='));
    const items = [...this.objects.entries()]
      .filter(([key]) => (opts?.namespace === undefined ? key.startsWith(`${ref.plural}/`) : key.startsWith(`${prefix}/`)))
      .map(([, o]) => structuredClone(o) as T)
      .filter((o) => sel.every(([lk, lv]) => o.metadata.labels?.[lk ?? ''] === lv));
    return Promise.resolve({ items, metadata: { resourceVersion: String(this.rv) } });
  }

  // eslint-disable-next-line require-yield
  async *watch<T extends KubeObject>(_ref: ResourceRef, _opts: ListOptions, _signal: AbortSignal): AsyncIterable<WatchEvent<T>> {
    await Promise.resolve();
    throw new Error('MemoryKube does not watch');
  }

  create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    const key = this.k(ref, obj.metadata.name, obj.metadata.namespace);
    if (this.objects.has(key)) return Promise.reject(new ApiError(409, 'AlreadyExists', `${ref.plural} "${obj.metadata.name}" already exists`));
    this.writes.push({ verb: 'create', plural: ref.plural, name: obj.metadata.name });
    return Promise.resolve(this.seed(ref, obj));
  }

  update<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    const cur = this.objects.get(this.k(ref, obj.metadata.name, obj.metadata.namespace));
    if (!cur) return Promise.reject(new ApiError(404, 'NotFound', 'not found'));
    if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion) return Promise.reject(new ApiError(409, 'Conflict', 'the object has been modified'));
    this.writes.push({ verb: 'update', plural: ref.plural, name: obj.metadata.name });
    return Promise.resolve(this.store(ref, { ...structuredClone(obj), status: cur.status }, cur));
  }

  patch<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T> {
    return this.doPatch(ref, name, namespace, patch, undefined);
  }

  apply<T extends KubeObject>(ref: ResourceRef, obj: T, _fieldManager: string): Promise<T> {
    const cur = this.objects.get(this.k(ref, obj.metadata.name, obj.metadata.namespace));
    return cur ? this.doPatch(ref, obj.metadata.name, obj.metadata.namespace, obj, undefined) : this.create(ref, obj);
  }

  delete(ref: ResourceRef, name: string, namespace?: string, opts?: DeleteOptions): Promise<void> {
    const key = this.k(ref, name, namespace);
    const cur = this.objects.get(key);
    if (!cur) return Promise.reject(new ApiError(404, 'NotFound', 'not found'));
    const pre = opts?.preconditions;
    if ((pre?.uid !== undefined && pre.uid !== cur.metadata.uid) || (pre?.resourceVersion !== undefined && pre.resourceVersion !== cur.metadata.resourceVersion)) {
      return Promise.reject(new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${ref.plural} "${name}": the precondition does not match the stored object`));
    }
    this.writes.push({ verb: 'delete', plural: ref.plural, name });
    if ((cur.metadata.finalizers ?? []).length > 0) cur.metadata.deletionTimestamp ??= new Date(0).toISOString();
    else this.objects.delete(key);
    return Promise.resolve();
  }

  updateStatus<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.doPatch(ref, obj.metadata.name, obj.metadata.namespace, { status: obj.status }, 'status');
  }

  patchStatus<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown): Promise<T> {
    return this.doPatch(ref, name, namespace, patch, 'status');
  }

  private doPatch<T extends KubeObject>(ref: ResourceRef, name: string, namespace: string | undefined, patch: unknown, sub: 'status' | undefined): Promise<T> {
    const cur = this.objects.get(this.k(ref, name, namespace));
    if (!cur) return Promise.reject(new ApiError(404, 'NotFound', `${ref.plural} "${name}" not found`));
    const p = patch as { metadata?: { resourceVersion?: string }; status?: unknown };
    if (p.metadata?.resourceVersion !== undefined && p.metadata.resourceVersion !== cur.metadata.resourceVersion) return Promise.reject(new ApiError(409, 'Conflict', 'the object has been modified'));
    this.writes.push({ verb: 'patch', plural: ref.plural, name, ...(sub ? { subresource: sub } : {}) });
    const merged = mergePatch(cur, sub === 'status' ? { status: p.status } : patch) as T;
    if (sub === 'status') merged.spec = cur.spec;
    else merged.status = cur.status;
    return Promise.resolve(this.store(ref, merged, cur));
  }

  private store<T extends KubeObject>(ref: ResourceRef, next: T, cur: KubeObject): T {
    next.metadata.resourceVersion = String(this.rv++);
    next.metadata.generation = JSON.stringify(next.spec) === JSON.stringify(cur.spec) ? cur.metadata.generation : (cur.metadata.generation ?? 1) + 1;
    const key = this.k(ref, next.metadata.name, next.metadata.namespace);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) this.objects.delete(key);
    else this.objects.set(key, structuredClone(next));
    return structuredClone(next);
  }
}

const meta = (name: string, namespace: string) => ({ name, namespace, uid: `uid-${name}`, generation: 1, resourceVersion: '1', creationTimestamp: '2026-11-25T11:00:00Z' });

/** A Feed with a valid spec (hourly CSV); override any spec field. */
export function feed(name = 'feed-a', spec: Partial<FeedSpec> = {}, namespace = 'tm'): Feed {
  return { apiVersion: API_VERSION, kind: 'Feed', metadata: meta(name, namespace), spec: { url: 'https://feeds.example/list.csv', format: 'csv', schedule: { interval: '1h' }, defaults: { type: 'ipv4' }, ...spec } };
}

/** A ThreatIndicator with a valid, normalized spec. */
export function indicator(name = 'ipv4-x', spec: Partial<ThreatIndicatorSpec> = {}, namespace = 'tm'): ThreatIndicator {
  return { apiVersion: API_VERSION, kind: 'ThreatIndicator', metadata: meta(name, namespace), spec: { type: 'ipv4', value: '192.0.2.66', ...spec } };
}

/** A partner with a fresh signing key, and its PartnerNode object. */
export interface TestPartner { readonly id: string; readonly key: SigningKey; readonly node: PartnerNode }

/** Creates a partner `id` with a fresh Ed25519 key; roles default to voter. */
export function partner(id: string, spec: Partial<PartnerNodeSpec> = {}, namespace = 'tm'): TestPartner {
  const key = SigningKey.generate();
  const node: PartnerNode = {
    apiVersion: API_VERSION,
    kind: 'PartnerNode',
    metadata: meta(id, namespace),
    spec: { partnerId: id, organization: `${id} org`, endpoint: `${id}.example:8443`, publicKey: key.publicKey.toRawBase64(), roles: ['voter'], ...spec },
  };
  return { id, key, node };
}

/** A status vote record signed by `p` on indicator `ti`'s digest. */
export function signedVote(p: TestPartner, ti: ThreatIndicator, decision: 'approve' | 'reject', signedAt = '2026-11-25T11:30:00Z'): VoteRecord {
  const v = signVote(p.key, { partnerId: p.id, digest: indicatorDigest({ type: ti.spec.type, value: ti.spec.value }), decision, signedAt });
  return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature };
}

/** How {@link signedRevocation} builds a certificate. */
export interface RevocationFixture {
  /** @default 5 */
  readonly logIndex?: number;
  /** @default 2026-11-25T11:40:00Z, closing 24 h later */
  readonly opensAt?: string;
  /** When the voters signed. @default 2026-11-25T11:45:00Z */
  readonly signedAt?: string;
}

/** A revocation certificate for `ti`: `proposer`'s revocation signature and revoke approvals from `voters`, as exchange/entry.ts signs them. */
export function signedRevocation(ti: ThreatIndicator, proposer: TestPartner, voters: readonly TestPartner[], f: RevocationFixture = {}): RevocationRecord {
  const indicator = { type: ti.spec.type, value: ti.spec.value };
  const opensAt = f.opensAt ?? '2026-11-25T11:40:00Z';
  const subject = voteSubject('revoke', indicatorDigest(indicator));
  const votes = voters.map((p) => {
    const v = signVote(p.key, { partnerId: p.id, digest: subject, decision: 'approve', signedAt: f.signedAt ?? '2026-11-25T11:45:00Z' });
    return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature };
  });
  return {
    logIndex: f.logIndex ?? 5, proposerId: proposer.id, signature: signProposal(proposer.key, 'revoke', indicator),
    window: { opensAt, closesAt: new Date(Date.parse(opensAt) + 24 * 3_600_000).toISOString() }, votes,
  };
}
