/**
 * What every command's flag handling shares: host:port parsing, required flags, files named by
 * flags, the signing key, the cluster to talk to, and waiting for SIGTERM/SIGINT. Every error
 * names the flag and says what to give.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { SigningKey } from '../domain/signature.ts';
import { inClusterConfig, loadKubeconfig, type ClusterConfig } from '../runtime/kubeconfig.ts';
import type { CliEnv } from './env.ts';

/** host:port → parts; throws a message naming the flag. */
export function parseBind(flag: string, text: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`${flag} ${JSON.stringify(text)} must be host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)`);
  return { host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

/** `value` when given; else throws "`flag` is required: `what`". */
export function need(value: string | undefined, flag: string, what: string): string {
  if (value === undefined || value === '') throw new Error(`${flag} is required: ${what}`);
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

/** The cluster of --kubeconfig, else $KUBECONFIG, else the in-cluster service account. */
export async function clusterConfig(kubeconfig: string | undefined, env: CliEnv): Promise<ClusterConfig> {
  const path = kubeconfig ?? env.kubeconfig;
  if (path) return loadKubeconfig(path);
  return inClusterConfig(env.kubernetesServiceHost, env.kubernetesServicePort);
}

/** Resolves with the name of the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  return new Promise((res) => {
    const on = (sig: string) => () => res(sig);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));
  });
}
