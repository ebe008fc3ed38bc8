/**
 * Connection settings for the API server: from a kubeconfig file (current context) or from the
 * in-cluster service account. Reads files; reads no environment (the caller passes
 * KUBERNETES_SERVICE_HOST/PORT in).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';

/** Everything needed to open authenticated connections to one API server. */
export interface ClusterConfig {
  /** https://host:port (may carry a path prefix). */
  readonly server: string;
  /** PEM CA bundle that signs the server certificate; system roots when absent. */
  readonly ca?: Buffer;
  readonly insecureSkipTlsVerify?: boolean;
  /** PEM client certificate and key (mutual TLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Static bearer token. */
  readonly token?: string;
  /** File holding a bearer token that may rotate (re-read by the client). */
  readonly tokenFile?: string;
  /** Where the settings came from, for error messages. */
  readonly source: string;
}

type Dict = Record<string, unknown>;

/**
 * Loads the current context of the kubeconfig at `path` (or `context` when given). Relative file
 * paths in it resolve against the kubeconfig's directory, as kubectl does. Errors name the file
 * and the missing or malformed field.
 */
export async function loadKubeconfig(path: string, context?: string): Promise<ClusterConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`kubeconfig ${path}: cannot read it (${(err as Error).message}); set KUBECONFIG to an existing file`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${path}: not valid YAML (${(err as Error).message})`, { cause: err });
  }
  return fromKubeconfig(asDict(doc, path, '(document)'), path, context);
}

async function fromKubeconfig(doc: Dict, path: string, context?: string): Promise<ClusterConfig> {
  const ctxName = context ?? str(doc, 'current-context', path, 'current-context');
  const ctx = namedEntry(doc, 'contexts', ctxName, 'context', path);
  const clusterName = str(ctx, 'cluster', path, `contexts[${ctxName}].context.cluster`);
  const cluster = namedEntry(doc, 'clusters', clusterName, 'cluster', path);
  const userName = optStr(ctx, 'user', path, `contexts[${ctxName}].context.user`);
  const user = userName ? namedEntry(doc, 'users', userName, 'user', path) : {};
  const base = dirname(path);
  const where = (f: string): string => `clusters[${clusterName}].cluster.${f}`;
  const uwhere = (f: string): string => `users[${userName ?? ''}].user.${f}`;
  const server = str(cluster, 'server', path, where('server'));
  try {
    new URL(server);
  } catch {
    throw new Error(`kubeconfig ${path}: ${where('server')} is not a URL: ${server}`);
  }
  const tokenFile = optStr(user, 'tokenFile', path, uwhere('tokenFile'));
  return {
    server,
    ca: await pem(cluster, 'certificate-authority', base, path, where),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    cert: await pem(user, 'client-certificate', base, path, uwhere),
    key: await pem(user, 'client-key', base, path, uwhere),
    token: optStr(user, 'token', path, uwhere('token')),
    tokenFile: tokenFile ? absolute(base, tokenFile) : undefined,
    source: `kubeconfig ${path} (context ${ctxName})`,
  };
}

/** Default locations of the in-cluster service account files. */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In-cluster settings: server from KUBERNETES_SERVICE_HOST/PORT (passed in by the caller), CA and
 * rotating token from the service account directory.
 */
export async function inClusterConfig(host: string | undefined, port: string | undefined, dir = serviceAccountDir): Promise<ClusterConfig> {
  if (!host || !port) {
    throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; run inside a pod or set KUBECONFIG');
  }
  const tokenFile = `${dir}/token`;
  const caFile = `${dir}/ca.crt`;
  const ca = await readFile(caFile).catch((err: Error) => {
    throw new Error(`in-cluster config: cannot read ${caFile} (${err.message}); is a service account token mounted?`, { cause: err });
  });
  await readFile(tokenFile).catch((err: Error) => {
    throw new Error(`in-cluster config: cannot read ${tokenFile} (${err.message}); is a service account token mounted?`, { cause: err });
  });
  const h = host.includes(':') ? `[${host}]` : host;
  return { server: `https://${h}:${port}`, ca, tokenFile, source: 'in-cluster service account' };
}

function asDict(v: unknown, path: string, field: string): Dict {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`kubeconfig ${path}: ${field} must be a mapping`);
  return v as Dict;
}

function str(d: Dict, k: string, path: string, field: string): string {
  const v = d[k];
  if (typeof v !== 'string' || v === '') throw new Error(`kubeconfig ${path}: ${field} is missing or not a string`);
  return v;
}

function optStr(d: Dict, k: string, path: string, field: string): string | undefined {
  const v = d[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`kubeconfig ${path}: ${field} must be a string`);
  return v;
}

function namedEntry(doc: Dict, list: string, name: string, inner: string, path: string): Dict {
  const entries = doc[list];
  if (!Array.isArray(entries)) throw new Error(`kubeconfig ${path}: ${list} is missing or not a list`);
  for (const e of entries as unknown[]) {
    const d = asDict(e, path, `${list}[]`);
    if (d['name'] === name) return asDict(d[inner] ?? {}, path, `${list}[${name}].${inner}`);
  }
  throw new Error(`kubeconfig ${path}: no entry named "${name}" in ${list}`);
}

/** Reads `<field>-data` (base64 PEM) or the file named by `<field>`. */
async function pem(d: Dict, field: string, base: string, path: string, where: (f: string) => string): Promise<Buffer | undefined> {
  const data = optStr(d, `${field}-data`, path, where(`${field}-data`));
  if (data) return Buffer.from(data, 'base64');
  const file = optStr(d, field, path, where(field));
  if (!file) return undefined;
  const full = absolute(base, file);
  try {
    return await readFile(full);
  } catch (err) {
    throw new Error(`kubeconfig ${path}: ${where(field)} names ${full}, which cannot be read (${(err as Error).message})`, { cause: err });
  }
}

function absolute(base: string, file: string): string {
  return isAbsolute(file) ? file : resolve(base, file);
}
