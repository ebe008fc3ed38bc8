/**
 * GitOps: the Argo CD AppProject of one party and one Application per rendered component
 * folder of its GitOps repository. The project admits only this repository and the cluster it
 * runs in; Applications sync automatically (prune, self-heal) with server-side apply, the
 * ThreatMesh CRDs first (sync wave -1).
 */
import { Construct } from 'constructs';
import { AppProject, Application } from '../imports/argoproj.io.js';
import type { Values } from '../values.ts';
import { labels } from './common.ts';

/** Props of GitOps. */
export interface GitOpsProps {
  /** Resolved installation values. */
  readonly values: Values;
  /** Folders of the repository, one Application each (e.g. crds, operator, cilium). */
  readonly folders: readonly string[];
}

/** Name of the AppProject (and prefix of the Applications) of `values`' party. */
export function projectName(values: Values): string {
  return `threatmesh-${values.partnerId}`;
}

/** The AppProject and the Applications. */
export class GitOps extends Construct {
  /** @param props values and the repository's component folders */
  constructor(scope: Construct, id: string, props: GitOpsProps) {
    super(scope, id);
    const v = props.values;
    const project = projectName(v);
    const meta = (name: string, extra: Record<string, string> = {}): { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> } =>
      ({ name, namespace: v.gitops.argocdNamespace, labels: labels(v, 'gitops'), ...(Object.keys(extra).length ? { annotations: extra } : {}) });
    new AppProject(this, 'project', {
      metadata: meta(project),
      spec: {
        description: `ThreatMesh ${v.role} ${v.partnerId}`,
        sourceRepos: [v.gitops.repoURL],
        destinations: [{ server: 'https://kubernetes.default.svc', namespace: '*' }],
        clusterResourceWhitelist: [{ group: '*', kind: '*' }],
      },
    });
    for (const folder of props.folders) {
      new Application(this, folder, {
        metadata: meta(`${project}-${folder}`, { 'argocd.argoproj.io/sync-wave': folder === 'crds' ? '-1' : '0' }),
        spec: {
          project,
          source: { repoUrl: v.gitops.repoURL, targetRevision: v.gitops.targetRevision, path: folder },
          destination: { server: 'https://kubernetes.default.svc', namespace: v.namespace },
          syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ['ServerSideApply=true', 'CreateNamespace=true'] },
        },
      });
    }
  }
}
