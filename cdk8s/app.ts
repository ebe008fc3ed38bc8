/**
 * The cdk8s app: one Chart per component of a ThreatMesh party, synthesized to plain manifests.
 * `renderInstall(values)` is what both `threatmesh gitops render` and the chart-vs-cdk8s drift
 * test read; `renderGitOps` adds the Argo CD objects.
 */
import { App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { Ceph } from './lib/ceph.ts';
import { CiliumPolicies } from './lib/cilium.ts';
import { Enforcer } from './lib/enforcer.ts';
import { GitOps } from './lib/gitops.ts';
import { HAProxy } from './lib/haproxy.ts';
import { Monitoring } from './lib/monitoring.ts';
import { MongoDB } from './lib/mongodb.ts';
import { Partner } from './lib/partner.ts';
import { ReplicaApi } from './lib/replicaapi.ts';
import { Sequencer } from './lib/sequencer.ts';
import { Serve } from './lib/serve.ts';
import type { Values } from './values.ts';

/** A Kubernetes object as synthesized. */
export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown } };

/** One component folder of the rendered installation. */
export interface RenderedComponent {
  readonly component: string;
  readonly objects: readonly Manifest[];
}

/** Kinds without a namespace among those the app renders. */
export const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'APIService', 'StorageClass', 'CustomResourceDefinition', 'Namespace']);

type Builder = (scope: Construct, values: Values) => void;

/** The components of a party in apply order, each with whether `values` turns it on. */
const COMPONENTS: ReadonlyArray<[string, (v: Values) => boolean, Builder]> = [
  ['ceph', (v) => v.ceph.enabled, (s, v) => new Ceph(s, 'ceph', { values: v })],
  ['mongodb', (v) => v.mongodb.enabled, (s, v) => new MongoDB(s, 'mongodb', { values: v })],
  ['operator', (v) => v.role === 'partner', (s, v) => new Partner(s, 'partner', { values: v })],
  ['serve', (v) => v.role === 'partner' && v.serve.enabled, (s, v) => new Serve(s, 'serve', { values: v })],
  ['enforcer', (v) => v.role === 'partner' && v.enforce.enabled, (s, v) => new Enforcer(s, 'enforcer', { values: v })],
  ['replica-api', (v) => v.role === 'partner' && v.replicaApi.enabled, (s, v) => new ReplicaApi(s, 'replica-api', { values: v })],
  ['sequencer', (v) => v.role === 'sequencer', (s, v) => new Sequencer(s, 'sequencer', { values: v })],
  ['haproxy', (v) => v.haproxy.enabled, (s, v) => new HAProxy(s, 'haproxy', { values: v })],
  ['cilium', () => true, (s, v) => new CiliumPolicies(s, 'cilium', { values: v })],
  ['monitoring', (v) => v.monitoring.enabled, (s, v) => new Monitoring(s, 'monitoring', { values: v })],
];

function synth(chart: Chart, namespace: string): Manifest[] {
  return (chart.toJson() as Manifest[]).map((o) => (CLUSTER_SCOPED.has(o.kind) || o.metadata.namespace !== undefined ? o : { ...o, metadata: { ...o.metadata, namespace } }));
}

/** The objects of every enabled component of `values`' party, one entry per component. */
export function renderInstall(values: Values): RenderedComponent[] {
  const app = new App();
  const out: RenderedComponent[] = [];
  for (const [component, on, build] of COMPONENTS) {
    if (!on(values)) continue;
    const chart = new Chart(app, component, { disableResourceNameHashes: true });
    build(chart, values);
    out.push({ component, objects: synth(chart, values.namespace) });
  }
  return out;
}

/** The Argo CD AppProject and Applications for the repository folders `folders`. */
export function renderGitOps(values: Values, folders: readonly string[]): Manifest[] {
  const chart = new Chart(new App(), 'gitops', { disableResourceNameHashes: true });
  new GitOps(chart, 'gitops', { values, folders });
  return synth(chart, values.gitops.argocdNamespace);
}
