/**
 * The upstream CustomResourceDefinitions the cdk8s app builds on (Cilium, Rook, Argo CD,
 * cert-manager, Prometheus Operator, MongoDB Community, Grafana Operator). Their YAML is not in
 * this repository: it sits in the `shared/crds` folder beside it (see that folder's README for
 * versions and sources). `npm run generate` imports typed constructs from these files, and the
 * install tests validate and dry-run apply against them.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One upstream CRD file, relative to the shared CRD folder, and the API group it defines. */
export interface UpstreamCrd {
  readonly group: string;
  readonly file: string;
}

/** Every upstream CRD the app renders objects of, grouped by API group in import order. */
export const UPSTREAM_CRDS: readonly UpstreamCrd[] = [
  { group: 'cilium.io', file: 'cilium/ciliumnetworkpolicies.yaml' },
  { group: 'ceph.rook.io', file: 'rook/cephclusters.ceph.rook.io.yaml' },
  { group: 'ceph.rook.io', file: 'rook/cephblockpools.ceph.rook.io.yaml' },
  { group: 'ceph.rook.io', file: 'rook/cephobjectstores.ceph.rook.io.yaml' },
  { group: 'argoproj.io', file: 'argo-cd/appproject-crd.yaml' },
  { group: 'argoproj.io', file: 'argo-cd/application-crd.yaml' },
  { group: 'cert-manager.io', file: 'cert-manager/cert-manager.io_certificates.yaml' },
  { group: 'monitoring.coreos.com', file: 'prometheus-operator/monitoring.coreos.com_servicemonitors.yaml' },
  { group: 'monitoring.coreos.com', file: 'prometheus-operator/monitoring.coreos.com_prometheusrules.yaml' },
  { group: 'grafana.integreatly.org', file: 'grafana-operator/grafana.integreatly.org_grafanadashboards.yaml' },
  { group: 'mongodbcommunity.mongodb.com', file: 'mongodb-kubernetes/mongodbcommunity.mongodb.com_mongodbcommunity.yaml' },
];

/**
 * The shared CRD folder for the repository at `root`: `shared/crds` beside the repository, or
 * one level further up (a git worktree under a folder of worktrees). Throws saying where it looked.
 */
export function upstreamCrdDir(root: string): string {
  const candidates = [resolve(root, '../shared/crds'), resolve(root, '../../shared/crds')];
  const found = candidates.find((d) => existsSync(join(d, 'README.md')));
  if (found === undefined) {
    throw new Error(`upstream CRDs not found (looked in ${candidates.join(', ')}): put the shared/crds folder (Cilium, Rook, Argo CD, cert-manager, Prometheus Operator, MongoDB Community, Grafana Operator CRDs) beside the repository`);
  }
  return found;
}
