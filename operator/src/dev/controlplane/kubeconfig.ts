/** Writes the admin kubeconfig of a local control plane instance. */
import { stringify } from 'yaml';

/** The credentials of one instance's admin identity (PEM text). */
export interface AdminCredentials {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * Renders a self-contained kubeconfig (certificates inline as *-data) whose only context,
 * `name`, is current. kubectl and the operator's loadKubeconfig both read it.
 */
export function renderKubeconfig(name: string, creds: AdminCredentials): string {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: creds.server, 'certificate-authority-data': b64(creds.caPem) } }],
    users: [{ name: `${name}-admin`, user: { 'client-certificate-data': b64(creds.certPem), 'client-key-data': b64(creds.keyPem) } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
  });
}
