/**
 * Applies YAML manifests (multi-document) with server-side apply, and waits for CRDs to be
 * served: what `kubectl apply -f crds/` does, for the local sandbox and for tests.
 */
import { parseAllDocuments } from 'yaml';
import type { KubeHttpClient } from './kube.ts';
import { sleep, systemClock, type Clock } from './clock.ts';
import type { Condition, KubeObject, ResourceRef } from './types.ts';

/** The apiextensions.k8s.io/v1 CustomResourceDefinition resource. */
export const crdResource: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };

/** Parses multi-document YAML into objects; empty documents are skipped, malformed ones rejected with their index. */
export function parseManifests(text: string, source = 'manifest'): KubeObject[] {
  const out: KubeObject[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) return;
    const o = v as Partial<KubeObject>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new Error(`${source}: document ${i + 1} needs apiVersion, kind and metadata.name`);
    }
    out.push(o as KubeObject);
  });
  return out;
}

/**
 * Server-side applies every object in order (CRDs and namespaces first), resolving kinds by
 * discovery; namespaced objects without a namespace go to `defaultNamespace`. Newly applied
 * CRDs are awaited until Established before later objects that may use them.
 */
export async function applyManifests(client: KubeHttpClient, objects: readonly KubeObject[], fieldManager: string, defaultNamespace = 'default'): Promise<KubeObject[]> {
  const rank = (o: KubeObject): number => (o.kind === 'CustomResourceDefinition' ? 0 : o.kind === 'Namespace' ? 1 : 2);
  const ordered = [...objects].sort((a, b) => rank(a) - rank(b));
  const applied: KubeObject[] = [];
  const crds: string[] = [];
  for (const obj of ordered) {
    if (rank(obj) === 2 && crds.length > 0) await waitForCrds(client, crds.splice(0));
    const ref = await discoverSoon(client, obj);
    const target = ref.namespaced && !obj.metadata.namespace ? { ...obj, metadata: { ...obj.metadata, namespace: defaultNamespace } } : obj;
    applied.push(await client.apply(ref, target, fieldManager));
    if (obj.kind === 'CustomResourceDefinition') crds.push(obj.metadata.name);
  }
  if (crds.length > 0) await waitForCrds(client, crds);
  return applied;
}

async function discoverSoon(client: KubeHttpClient, obj: KubeObject, clock: Clock = systemClock): Promise<ResourceRef> {
  // Discovery can lag a few hundred milliseconds behind a CRD becoming Established.
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.discover(obj.apiVersion, obj.kind);
    } catch (err) {
      if (attempt >= 50) throw err;
      await sleep(clock, 200);
    }
  }
}

/** Resolves when every named CRD has condition Established=True; rejects after `timeoutMs`. */
export async function waitForCrds(client: KubeHttpClient, names: readonly string[], timeoutMs = 30_000, clock: Clock = systemClock): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.get<KubeObject & { status?: { conditions?: Condition[] } }>(crdResource, name);
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (clock.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms; check its schema with kubectl describe crd ${name}`);
      await sleep(clock, 100);
    }
  }
}
