/** What the composition root hands to every command: configuration read once from the environment. */
import type { Writable } from 'node:stream';
import type { Level } from '../log.ts';

export interface CliEnv {
  /** KUBECONFIG, when set: commands use that cluster instead of the local control plane. */
  readonly kubeconfig: string | undefined;
  /** KUBERNETES_SERVICE_HOST / _PORT: in-cluster API server address when no kubeconfig is given. */
  readonly kubernetesServiceHost?: string | undefined;
  readonly kubernetesServicePort?: string | undefined;
  /** $HOME/.kube/config: the last place commands look for a cluster, as kubectl and controller-runtime do. */
  readonly homeKubeconfig?: string | undefined;
  /** MONGODB_URI, when set: commands use that database instead of the local one. */
  readonly mongodbUri: string | undefined;
  /** THREATMESH_FERRETDB_BACKEND: the default of --ferretdb-backend for the local database (auto, postgresql or sqlite). */
  readonly ferretdbBackend?: string | undefined;
  /** Cache for built binaries and generated state, outside the repository. */
  readonly cacheDir: string;
  readonly logLevel: Level;
  readonly stdout: Writable;
  readonly stderr: Writable;
}
