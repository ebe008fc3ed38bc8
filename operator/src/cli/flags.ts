/**
 * What every command's flag handling shares: host:port parsing, required flags, files named by
 * flags, the signing key, the cluster to talk to, and waiting for SIGTERM/SIGINT. Every error
 * names the flag and says what to give.
 */
import { access, readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Command } from 'commander';
import { SigningKey } from '../domain/signature.ts';
import { UsageError } from './errors.ts';
import { inClusterConfig, loadKubeconfig, type ClusterConfig } from '../runtime/kubeconfig.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { leaseRequestTimeoutMs } from '../runtime/leader.ts';
import type { ManagerLeaderElection } from '../runtime/manager.ts';
import type { CliEnv } from './env.ts';

/** host:port → parts; throws a message naming the flag. */
export function parseBind(flag: string, text: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} ${JSON.stringify(text)} must be host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)`);
  return { host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

/** `value` when given; else throws "`flag` is required: `what`". */
export function need(value: string | undefined, flag: string, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required: ${what}`);
  return value;
}

/** The text of the file a flag names, or an error naming the flag. */
export async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * The certificate revocation lists (PEM) named by --tls-crl, checked as OpenSSL will load them.
 * The error says what to give.
 */
export async function readCrl(path: string): Promise<string> {
  const pem = await readFlagFile('--tls-crl', path);
  if (!pem.includes('-----BEGIN X509 CRL-----')) throw new Error(`--tls-crl ${path} holds no PEM certificate revocation list (-----BEGIN X509 CRL-----); give the network CA's CRL, e.g. from \`openssl ca -gencrl\``);
  try {
    createSecureContext({ crl: pem });
  } catch (err) {
    throw new Error(`--tls-crl ${path} is not a valid CRL: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return pem;
}

/** The Ed25519 key in the PEM text read from `path` (named by --signing-key), or an error saying how to make one. */
export function loadKey(pem: string, path: string): SigningKey {
  try {
    return SigningKey.fromPem(pem);
  } catch (err) {
    throw new Error(`--signing-key ${path} is not an Ed25519 private key in PKCS#8 PEM (make one with \`threatmesh keys generate\`): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Reads and parses the --signing-key file. */
export async function readSigningKey(path: string): Promise<SigningKey> {
  return loadKey(await readFlagFile('--signing-key', path), path);
}

/** The flags of every command that talks to a cluster, as kubectl spells them. */
export interface ClusterFlags {
  /** Kubeconfig file(s), ':'-separated as in KUBECONFIG. */
  readonly kubeconfig?: string | undefined;
  /** Context of the kubeconfig to use instead of its current-context. */
  readonly context?: string | undefined;
}

/** Adds `--kubeconfig` and `--context` to `cmd`; `what` says what the cluster is for. */
export function addClusterFlags(cmd: Command, what = 'the cluster'): Command {
  return cmd
    .option('--kubeconfig <path>', `kubeconfig of ${what}; several files separated by ':' as in KUBECONFIG (default: $KUBECONFIG, else the in-cluster service account, else ~/.kube/config)`)
    .option('--context <name>', 'kubeconfig context to use instead of its current-context (as kubectl --context)');
}

/** Which kubeconfig `flags` and `env` name, in controller-runtime's order; undefined means in-cluster. */
export async function kubeconfigPath(flags: ClusterFlags, env: CliEnv): Promise<string | undefined> {
  const path = flags.kubeconfig ?? env.kubeconfig;
  if (path) return path;
  if (env.kubernetesServiceHost) return undefined;
  const home = env.homeKubeconfig;
  if (home !== undefined && await access(home).then(() => true, () => false)) return home;
  if (flags.context !== undefined) throw new UsageError(`--context ${flags.context} needs a kubeconfig: pass --kubeconfig FILE or set KUBECONFIG`);
  return undefined;
}

/**
 * `election` with the client of its Lease: two sockets of its own, so a renewal never waits
 * behind the process's other requests on their shared pool (under CPU starvation, partners lost
 * their Lease every 40-90 s while their exchange wrote a backlog to the cluster), and a request
 * timeout derived from the renew deadline this election uses (leaseRequestTimeoutMs: half, at
 * least 1 s), so a stuck attempt leaves time for another before the leader must step down.
 * controller-runtime gives leader election its own client for the same reason.
 */
export function withLeaseClient<E extends ManagerLeaderElection>(cluster: ClusterConfig, userAgent: string, election: E): E & { readonly client: KubeHttpClient } {
  const client = new KubeHttpClient(cluster, { userAgent: `${userAgent}/leader-election`, maxSockets: 2, requestTimeoutMs: leaseRequestTimeoutMs(election.renewDeadlineMs) });
  return { ...election, client };
}

/**
 * The cluster of --kubeconfig, else $KUBECONFIG, else the in-cluster service account, else
 * ~/.kube/config (controller-runtime's order), with --context applied.
 */
export async function clusterConfig(flags: ClusterFlags, env: CliEnv): Promise<ClusterConfig> {
  const path = await kubeconfigPath(flags, env);
  if (path !== undefined) return loadKubeconfig(path, flags.context);
  try {
    return await inClusterConfig(env.kubernetesServiceHost, env.kubernetesServicePort);
  } catch (err) {
    throw new Error(`no cluster to talk to: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod (${(err as Error).message})`, { cause: err });
  }
}

/** Resolves with the name of the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  return new Promise((res) => {
    const on = (sig: string) => () => res(sig);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));
  });
}
