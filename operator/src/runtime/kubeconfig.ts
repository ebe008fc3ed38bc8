/**
 * Connection settings for the API server, as @kubernetes/client-node's `KubeConfig`: from
 * kubeconfig files (KUBECONFIG's colon-separated list merged the way kubectl merges it, the
 * current context or `--context`), or from the in-cluster service account. Every kind of user
 * kubectl knows works: client certificates, tokens, token files (re-read as they rotate), exec
 * credential plugins (EKS, GKE, AKS, kubelogin…), OIDC and the other auth providers client-node
 * implements. Reads files; reads no environment (the caller passes KUBERNETES_SERVICE_HOST/PORT in).
 *
 * client-node is imported lazily: commands that never talk to a cluster do not load it.
 */
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';

/**
 * Everything needed to open authenticated connections to one API server. `kubeConfig`, when
 * present, is authoritative for TLS and authentication (the static fields then describe it for
 * messages and for tools that need plain data); without it the static fields are the settings
 * (a token from a TokenRequest in a test, say) and the client builds a KubeConfig from them.
 */
export interface ClusterConfig {
  /** https://host:port (may carry a path prefix). */
  readonly server: string;
  /** PEM CA bundle that signs the server certificate; system roots when absent. */
  readonly ca?: Buffer;
  readonly insecureSkipTlsVerify?: boolean;
  /** PEM client certificate and key (mutual TLS), when the user has static ones. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Static bearer token. */
  readonly token?: string;
  /** File holding a bearer token that may rotate (re-read by the client). */
  readonly tokenFile?: string;
  /** The context's default namespace, when it names one. */
  readonly namespace?: string;
  /** The context used, when the settings came from a kubeconfig. */
  readonly context?: string;
  /** Where the settings came from, for error messages. */
  readonly source: string;
  /** client-node's view of the same settings; it authenticates every request (exec plugins, OIDC, token files…). */
  readonly kubeConfig?: KubeConfig;
}

type Dict = Record<string, unknown>;

/** One parsed kubeconfig file. */
interface KubeconfigFile {
  readonly path: string;
  readonly doc: Dict;
}

/**
 * Loads the kubeconfig at `path` — or, as KUBECONFIG allows, several files separated by ':'
 * merged like kubectl (the first file to name a cluster, user or context wins, and the first
 * current-context wins) — using `context` when given, else the current context. Relative file
 * paths (certificates, token files, exec commands) resolve against the directory of the file
 * that names them. Errors name the file and the missing or malformed field, and say what to do.
 */
export async function loadKubeconfig(path: string, context?: string): Promise<ClusterConfig> {
  const paths = path.split(delimiter).filter((p) => p !== '');
  if (paths.length === 0) throw new Error('kubeconfig: no file given; set KUBECONFIG or pass --kubeconfig FILE');
  const files = await Promise.all(paths.map(readKubeconfigFile));
  const where = paths.length === 1 ? paths[0] ?? path : paths.join(delimiter);
  const ctxName = context ?? firstCurrentContext(files, where);
  const ctx = namedEntry(files, 'contexts', ctxName, 'context', { where, flag: context === undefined ? undefined : '--context' });
  const clusterName = str(ctx.entry, 'cluster', ctx.file.path, `contexts[${ctxName}].context.cluster`);
  const cluster = namedEntry(files, 'clusters', clusterName, 'cluster', { where });
  const userName = optStr(ctx.entry, 'user', ctx.file.path, `contexts[${ctxName}].context.user`);
  const user = userName === undefined ? undefined : namedEntry(files, 'users', userName, 'user', { where });
  const c = await clusterOf(clusterName, cluster.entry, cluster.file.path);
  const u: Identity = user === undefined ? { user: undefined, static: {} } : await userOf(userName ?? '', user.entry, user.file.path);
  const namespace = optStr(ctx.entry, 'namespace', ctx.file.path, `contexts[${ctxName}].context.namespace`);
  const kubeConfig = await newKubeConfig(c.cluster, u.user ?? { name: '' }, ctxName, namespace);
  return {
    ...c.static, ...u.static, ...(namespace !== undefined ? { namespace } : {}),
    context: ctxName, source: `kubeconfig ${where} (context ${ctxName})`, kubeConfig,
  };
}

async function readKubeconfigFile(path: string): Promise<KubeconfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`kubeconfig ${path}: cannot read it (${(err as Error).message}); set KUBECONFIG (or --kubeconfig) to an existing file`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${path}: not valid YAML (${(err as Error).message})`, { cause: err });
  }
  return { path, doc: asDict(doc ?? {}, path, '(document)') };
}

function firstCurrentContext(files: readonly KubeconfigFile[], where: string): string {
  for (const f of files) {
    const v = optStr(f.doc, 'current-context', f.path, 'current-context');
    if (v !== undefined) return v;
  }
  const names = entryNames(files, 'contexts');
  throw new Error(`kubeconfig ${where}: current-context is missing; pass --context NAME${names.length > 0 ? ` (contexts: ${names.join(', ')})` : ' (the file has no contexts either)'}`);
}

interface Server {
  readonly cluster: Cluster;
  readonly static: Pick<ClusterConfig, 'server' | 'ca' | 'insecureSkipTlsVerify'>;
}

async function clusterOf(name: string, d: Dict, path: string): Promise<Server> {
  const where = (f: string): string => `clusters[${name}].cluster.${f}`;
  const server = str(d, 'server', path, where('server')).replace(/\/$/, '');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`kubeconfig ${path}: ${where('server')} is not a URL: ${server}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`kubeconfig ${path}: ${where('server')} must be an https:// (or http://) URL: ${server}`);
  const ca = await pem(d, 'certificate-authority', path, where);
  // Plain HTTP has no TLS to verify; client-node refuses http:// unless told so.
  const insecure = d['insecure-skip-tls-verify'] === true || url.protocol === 'http:';
  const tlsServerName = optStr(d, 'tls-server-name', path, where('tls-server-name'));
  const proxyUrl = optStr(d, 'proxy-url', path, where('proxy-url'));
  const cluster: Cluster = {
    name, server, skipTLSVerify: insecure,
    ...(ca ? { caData: ca.toString('base64') } : {}),
    ...(tlsServerName !== undefined ? { tlsServerName } : {}),
    ...(proxyUrl !== undefined ? { proxyUrl } : {}),
  };
  return { cluster, static: { server, ...(ca ? { ca } : {}), insecureSkipTlsVerify: d['insecure-skip-tls-verify'] === true } };
}

interface Identity {
  readonly user: User | undefined;
  readonly static: Pick<ClusterConfig, 'cert' | 'key' | 'token' | 'tokenFile'>;
}

async function userOf(name: string, d: Dict, path: string): Promise<Identity> {
  const where = (f: string): string => `users[${name}].user.${f}`;
  const cert = await pem(d, 'client-certificate', path, where);
  const key = await pem(d, 'client-key', path, where);
  const token = optStr(d, 'token', path, where('token'));
  const rawTokenFile = optStr(d, 'tokenFile', path, where('tokenFile')) ?? optStr(d, 'token-file', path, where('token-file'));
  const tokenFile = rawTokenFile === undefined ? undefined : absolute(dirname(path), rawTokenFile);
  const exec = execOf(d['exec'], path, where('exec'));
  const authProvider = d['auth-provider'] === undefined ? undefined : asDict(d['auth-provider'], path, where('auth-provider'));
  const user: User = {
    name,
    ...(cert ? { certData: cert.toString('base64') } : {}),
    ...(key ? { keyData: key.toString('base64') } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(exec !== undefined ? { exec } : {}),
    // A token file is client-node's `tokenFile` auth provider: re-read every minute, as bound tokens rotate.
    ...(authProvider !== undefined ? { authProvider } : token === undefined && tokenFile !== undefined ? { authProvider: { name: 'tokenFile', config: { tokenFile } } } : {}),
    ...stringFields(d, path, where, { username: 'username', password: 'password', impersonateUser: 'as' }),
  };
  return { user, static: { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(token !== undefined ? { token } : {}), ...(tokenFile !== undefined ? { tokenFile } : {}) } };
}

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** The exec plugin stanza, checked; a relative command with a slash resolves against the kubeconfig's directory (as kubectl does). */
function execOf(v: unknown, path: string, field: string): Dict | undefined {
  if (v === undefined || v === null) return undefined;
  const exec = asDict(v, path, field);
  const command = str(exec, 'command', path, `${field}.command`);
  const apiVersion = optStr(exec, 'apiVersion', path, `${field}.apiVersion`);
  if (apiVersion !== undefined && !EXEC_API_VERSIONS.includes(apiVersion)) {
    throw new Error(`kubeconfig ${path}: ${field}.apiVersion ${JSON.stringify(apiVersion)} is not supported; use ${EXEC_API_VERSIONS.join(' or ')}`);
  }
  if (exec['args'] !== undefined && (!Array.isArray(exec['args']) || !exec['args'].every((a) => typeof a === 'string'))) throw new Error(`kubeconfig ${path}: ${field}.args must be a list of strings`);
  const resolved = command.includes('/') && !isAbsolute(command) ? resolve(dirname(path), command) : command;
  return { ...exec, command: resolved };
}

function stringFields(d: Dict, path: string, where: (f: string) => string, map: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [to, from] of Object.entries(map)) {
    const v = optStr(d, from, path, where(from));
    if (v !== undefined) out[to] = v;
  }
  return out;
}

async function newKubeConfig(cluster: Cluster, user: User, contextName: string, namespace: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const context: Context = { name: contextName, cluster: cluster.name, user: user.name, ...(namespace !== undefined ? { namespace } : {}) };
  kc.loadFromOptions({ clusters: [cluster], users: [user], contexts: [context], currentContext: contextName });
  return kc;
}

/**
 * client-node's KubeConfig for `cfg`: its own when it has one, else one built from the static
 * fields (server, CA, client certificate, token or token file).
 */
export async function kubeConfigOf(cfg: ClusterConfig): Promise<KubeConfig> {
  if (cfg.kubeConfig !== undefined) return cfg.kubeConfig;
  const insecure = cfg.insecureSkipTlsVerify === true || cfg.server.startsWith('http:');
  const cluster: Cluster = { name: 'cluster', server: cfg.server, skipTLSVerify: insecure, ...(cfg.ca ? { caData: cfg.ca.toString('base64') } : {}) };
  const user: User = {
    name: 'user',
    ...(cfg.cert ? { certData: cfg.cert.toString('base64') } : {}),
    ...(cfg.key ? { keyData: cfg.key.toString('base64') } : {}),
    ...(cfg.token !== undefined ? { token: cfg.token } : cfg.tokenFile !== undefined ? { authProvider: { name: 'tokenFile', config: { tokenFile: cfg.tokenFile } } } : {}),
  };
  return newKubeConfig(cluster, user, 'context', cfg.namespace);
}

/**
 * Plain-data settings equivalent to `cfg` now, for a process that cannot run its auth (a child
 * under the permission model, a structured-clone message): an exec plugin or auth provider is run
 * once here and its token or client certificate kept. A rotating token file stays a file.
 */
export async function resolvedClusterConfig(cfg: ClusterConfig): Promise<ClusterConfig> {
  const { kubeConfig: _kc, ...plain } = cfg;
  if (cfg.kubeConfig === undefined || cfg.tokenFile !== undefined) return plain;
  const opts: { headers: Record<string, unknown>; cert?: unknown; key?: unknown } = { headers: {} };
  await cfg.kubeConfig.applyToHTTPSOptions(opts);
  const auth = opts.headers['Authorization'];
  const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
  const buf = (v: unknown): Buffer | undefined => (typeof v === 'string' || Buffer.isBuffer(v) ? Buffer.from(v) : undefined);
  const cert = buf(opts.cert) ?? cfg.cert;
  const key = buf(opts.key) ?? cfg.key;
  return { ...plain, ...(token !== undefined ? { token } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** Default locations of the in-cluster service account files. */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In-cluster settings: server from KUBERNETES_SERVICE_HOST/PORT (passed in by the caller), CA and
 * rotating token from the service account directory, namespace from its `namespace` file.
 */
export async function inClusterConfig(host: string | undefined, port: string | undefined, dir = serviceAccountDir): Promise<ClusterConfig> {
  if (!host || !port) {
    throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; run inside a pod, or set KUBECONFIG (or pass --kubeconfig FILE)');
  }
  const tokenFile = `${dir}/token`;
  const caFile = `${dir}/ca.crt`;
  const ca = await readFile(caFile).catch((err: Error) => {
    throw new Error(`in-cluster config: cannot read ${caFile} (${err.message}); is a service account token mounted?`, { cause: err });
  });
  await readFile(tokenFile).catch((err: Error) => {
    throw new Error(`in-cluster config: cannot read ${tokenFile} (${err.message}); is a service account token mounted?`, { cause: err });
  });
  const namespace = (await readFile(`${dir}/namespace`, 'utf8').catch(() => '')).trim();
  const h = host.includes(':') ? `[${host}]` : host;
  const base: ClusterConfig = { server: `https://${h}:${port}`, ca, tokenFile, ...(namespace ? { namespace } : {}), source: 'in-cluster service account' };
  return { ...base, kubeConfig: await kubeConfigOf(base) };
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

function entryNames(files: readonly KubeconfigFile[], list: string): string[] {
  const names = files.flatMap((f) => (Array.isArray(f.doc[list]) ? (f.doc[list] as unknown[]) : []).map((e) => (e !== null && typeof e === 'object' ? (e as Dict)['name'] : undefined)));
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}

/** The first entry named `name` in `list` across the files (kubectl's merge: the first file wins). */
function namedEntry(files: readonly KubeconfigFile[], list: string, name: string, inner: string, at: { where: string; flag?: string | undefined }): { entry: Dict; file: KubeconfigFile } {
  const { where, flag } = at;
  for (const file of files) {
    const entries = file.doc[list];
    if (entries === undefined || entries === null) continue;
    if (!Array.isArray(entries)) throw new Error(`kubeconfig ${file.path}: ${list} is not a list`);
    for (const e of entries as unknown[]) {
      const d = asDict(e, file.path, `${list}[]`);
      if (d['name'] === name) return { entry: asDict(d[inner] ?? {}, file.path, `${list}[${name}].${inner}`), file };
    }
  }
  const names = entryNames(files, list);
  const hint = flag !== undefined ? `; ${flag} must name one of: ${names.join(', ') || '(none)'}` : names.length > 0 ? `; ${list} here: ${names.join(', ')}` : '';
  throw new Error(`kubeconfig ${where}: no entry named "${name}" in ${list}${hint}`);
}

/** Reads `<field>-data` (base64 PEM) or the file named by `<field>`. */
async function pem(d: Dict, field: string, path: string, where: (f: string) => string): Promise<Buffer | undefined> {
  const data = optStr(d, `${field}-data`, path, where(`${field}-data`));
  if (data) return Buffer.from(data, 'base64');
  const file = optStr(d, field, path, where(field));
  if (!file) return undefined;
  const full = absolute(dirname(path), file);
  try {
    return await readFile(full);
  } catch (err) {
    throw new Error(`kubeconfig ${path}: ${where(field)} names ${full}, which cannot be read (${(err as Error).message})`, { cause: err });
  }
}

function absolute(base: string, file: string): string {
  return isAbsolute(file) ? file : resolve(base, file);
}
