/**
 * What every construct of the app shares: the recommended labels, the image reference, the
 * ThreatMesh container (non-root, read-only root filesystem, resources from values), and the
 * few helpers that bend cdk8s-plus-28 to a selector of our own labels.
 */
import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import type { Resources, Values } from '../values.ts';

/** The `app.kubernetes.io/component` of each workload; Cilium policies and Services select on it. */
export type Component = 'operator' | 'serve' | 'enforcer' | 'replica-api' | 'sequencer' | 'haproxy' | 'ingest' | 'mongodb';

/** The non-root user every ThreatMesh container runs as (the image's `nonroot`). */
export const NONROOT = 65532;

/** Ports of the ThreatMesh processes (their flags' values in the rendered args). */
export const PORTS = {
  metrics: 8080,
  webhook: 9443,
  gossip: 8444,
  serve: 8443,
  replicaApi: 9444,
  sequencer: 8443,
  sequencerMetrics: 8081,
  mongodb: 27017,
  haproxyHttps: 8443,
  haproxyGossip: 8444,
  haproxyAdmin: 9999,
  haproxyStats: 8404,
} as const;

/** Labels that select a component's pods. */
export function selectorLabels(component: Component): Record<string, string> {
  return { 'app.kubernetes.io/name': 'threatmesh', 'app.kubernetes.io/component': component };
}

/** Labels of every object of the installation (selector labels plus part-of and instance). */
export function labels(values: Values, component: Component | 'storage' | 'network' | 'monitoring' | 'gitops'): Record<string, string> {
  return { 'app.kubernetes.io/name': 'threatmesh', 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': 'threatmesh', 'app.kubernetes.io/instance': values.partnerId };
}

/** `repository:tag` of the ThreatMesh image. */
export function image(values: Values): string {
  return `${values.image.repository}:${values.image.tag}`;
}

function size(text: string): Size {
  const n = Number(text.slice(0, -2));
  return text.endsWith('Gi') ? Size.gibibytes(n) : Size.mebibytes(n);
}

/** cdk8s-plus resources from values: CPU request, memory request and limit. */
export function containerResources(r: Resources): kplus.ContainerResources {
  return { cpu: { request: kplus.Cpu.millis(Number(r.cpu.slice(0, -1))) }, memory: { request: size(r.memory), limit: size(r.memoryLimit) } };
}

/** Security context of a ThreatMesh container: the image's non-root user, nothing else allowed. */
export const SECURE: kplus.ContainerSecurityContextProps = {
  user: NONROOT, group: NONROOT, ensureNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false,
  capabilities: { drop: [kplus.Capability.ALL] }, seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
};

/**
 * A Deployment selected by `selectorLabels(component)` only: cdk8s-plus's address label is
 * removed from the pod template so the chart can render the same object.
 */
export function deployment(scope: Construct, id: string, values: Values, component: Component, props: Omit<kplus.DeploymentProps, 'select' | 'metadata' | 'podMetadata'> & { readonly name: string; readonly annotations?: Record<string, string> }): kplus.Deployment {
  const { name, annotations, ...rest } = props;
  const d = new kplus.Deployment(scope, id, {
    ...rest,
    metadata: { name, labels: labels(values, component) },
    podMetadata: { labels: { ...labels(values, component) }, ...(annotations ? { annotations } : {}) },
    select: false,
  });
  d.select(kplus.LabelSelector.of({ labels: selectorLabels(component) }));
  ApiObject.of(d).addJsonPatch(JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'));
  return d;
}

/** A Service selecting `component`'s pods, with named TCP ports. */
export function service(scope: Construct, id: string, values: Values, component: Component, props: { readonly name: string; readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number; readonly targetPort?: number }>; readonly type?: kplus.ServiceType; readonly headless?: boolean; readonly extraLabels?: Record<string, string> }): kplus.Service {
  const s = new kplus.Service(scope, id, {
    metadata: { name: props.name, labels: { ...labels(values, component), ...props.extraLabels } },
    type: props.type ?? kplus.ServiceType.CLUSTER_IP,
    ...(props.headless ? { clusterIP: 'None' } : {}),
    ports: props.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: kplus.Protocol.TCP })),
  });
  for (const [k, v] of Object.entries(selectorLabels(component))) s.selectLabel(k, v);
  return s;
}

/** A Secret (or ConfigMap-free) volume of secret `name`, mounted read-only. */
export function secretVolume(scope: Construct, id: string, name: string, items?: Record<string, string>): kplus.Volume {
  const itemsProp = items ? { items: Object.fromEntries(Object.entries(items).map(([key, path]) => [key, { path }])) } : {};
  return kplus.Volume.fromSecret(scope, id, kplus.Secret.fromSecretName(scope, `${id}-ref`, name), { name: id, ...itemsProp });
}

/** Scrape annotations for Prometheus setups without the Operator (the seed's convention). */
export function scrapeAnnotations(port: number): Record<string, string> {
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' };
}

/** A plain manifest (RBAC from operator/src/api, webhook configuration) as an object of the chart. */
export function raw(scope: Construct, id: string, manifest: Record<string, unknown>): ApiObject {
  const { apiVersion, kind, metadata, ...rest } = manifest as { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>;
  return new ApiObject(scope, id, { apiVersion, kind, metadata, ...rest });
}

/** The cert-manager issuer reference of in-cluster certificates. */
export function issuerRef(values: Values): { name: string; kind: string; group: string } {
  return { name: values.tls.issuerName, kind: values.tls.issuerKind, group: 'cert-manager.io' };
}
