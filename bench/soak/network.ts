/**
 * The soak benchmark's network on loopback: the harness's kube-apiserver and FerretDB, one
 * local CA, N partner identities (Ed25519 key, client certificate, PartnerNode with roles
 * contributor, voter and consumer) and a real `threatmesh sequencer` process reading them,
 * serving gRPC with mutual TLS and keeping its log in FerretDB. Child processes are started
 * with {@link spawnChild}: each logs to a file, and prints JSON lines its parent follows; with
 * {@link probeFlags} they carry the memory probe (memprobe.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { API_VERSION } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { LocalCa } from '../../operator/src/dev/sandbox/pki.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { loadYamlDir } from '../../e2e/harness/manifests.ts';
import type { ControlPlane } from '../../e2e/harness/controlplane.ts';
import { stablePort } from '../../e2e/chaos/ports.ts';
import { PROBE_DIR_ENV } from './procs.ts';

const MAIN = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const PROBE = new URL('./memprobe.ts', import.meta.url).pathname;

/** Node arguments and environment that load the memory probe (memprobe.ts) into a child writing under `dir`; none without a directory. */
export function probeFlags(dir: string | undefined): { readonly args: readonly string[]; readonly env: Readonly<Record<string, string>> } {
  return dir === undefined ? { args: [], env: {} } : { args: ['--import', PROBE], env: { [PROBE_DIR_ENV]: dir } };
}
/**
 * Memory settings of the bench's own load processes (the partner stream processes and the
 * proposer), so that their resident memory measures what they keep, not how V8 and glibc size
 * themselves under a load that changes with the machine's: the young generation fixed at
 * 2 × 16 MiB from the start (V8 otherwise grows it when the allocation rate rises and shrinks it
 * when it falls, and pages of a re-grown young generation came on top of the resident ones: the
 * proposer's RssAnon rose 12.8 MiB/min in the 2026-12-07 13:42 run with its live data flat), and
 * glibc's mmap threshold fixed at 128 KiB (otherwise it rises to the largest block freed, and
 * freed Buffers stay in its heap: resident memory keeps the highest Buffer total seen).
 * docs/adr/2026-12-07-soak-leak-verdict.md, addendum.
 */
export const LOAD_PROCESS_MEMORY: { readonly args: readonly string[]; readonly env: Readonly<Record<string, string>> } = {
  args: ['--min-semi-space-size=16', '--max-semi-space-size=16'],
  env: { MALLOC_MMAP_THRESHOLD_: '131072' },
};

/** Namespace of the soak network's PartnerNodes. */
export const SOAK_NAMESPACE = 'threatmesh-soak';
const SEQUENCER_ID = 'sequencer';

/** One partner identity, its material in memory. */
export interface SoakIdentity {
  readonly id: string;
  readonly key: SigningKey;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A child process whose stdout carries JSON lines. */
export interface Child {
  readonly label: string;
  readonly process: ChildProcess;
  /** The last JSON object it printed, if any. */
  last<T>(): T | undefined;
  /** Resolves at exit with the exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves at exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `node <args>` with stdout followed as JSON lines and stderr to `logPath`. */
export async function spawnChild(label: string, args: readonly string[], logPath: string, env: Readonly<Record<string, string>> = {}): Promise<Child> {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...args], { stdio: ['pipe', 'pipe', fd], env: { ...process.env, ...env } });
  } finally {
    closeSync(fd);
  }
  await Promise.race([once(child, 'spawn'), once(child, 'error').then(([err]) => { throw new Error(`${label}: cannot start: ${(err as Error).message}`); })]);
  let last: unknown;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      last = JSON.parse(line);
    } catch {
      // Not one of ours (a stray print): the log file has the process's own output.
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    label, process: child, exited,
    last: <T>() => last as T | undefined,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      child.stdin?.destroy();
    },
  };
}

/** The started network. */
export interface SoakNetwork {
  readonly sequencer: Child;
  /** host:port of the sequencer's gRPC endpoint. */
  readonly address: string;
  readonly metricsPort: number;
  readonly caPem: string;
  readonly partners: readonly SoakIdentity[];
  stop(): Promise<void>;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

function partnerNode(id: string, key: SigningKey, roles: PartnerNode['spec']['roles']): PartnerNode {
  return {
    apiVersion: API_VERSION, kind: 'PartnerNode', metadata: { name: id, namespace: SOAK_NAMESPACE },
    spec: { partnerId: id, organization: `${id} (soak)`, endpoint: '127.0.0.1:1', publicKey: key.publicKey.toRawBase64(), roles: [...roles], maxTlp: 'amber' },
  };
}

async function ready(port: number, timeoutMs: number, child: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${child.label} exited with ${child.process.exitCode} before it was ready; see its log`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${child.label} not ready within ${timeoutMs} ms; see its log`);
}

/** How the soak network is made. */
export interface SoakNetworkOptions {
  /** Partner identities. */
  readonly partners: number;
  /** Node flags of the sequencer process (e.g. --cpu-prof). @default none */
  readonly nodeOptions?: readonly string[];
  /** The sequencer's --entry-cache. @default the sequencer's own default */
  readonly entryCache?: number;
  /** Directory the sequencer's memory probe writes to (memprobe.ts). @default no probe */
  readonly probeDir?: string;
  /** Environment variables of the sequencer process beyond the bench's own (e.g. MALLOC_MMAP_THRESHOLD_). @default none */
  readonly env?: Readonly<Record<string, string>>;
}

/** Issues identities, registers them as PartnerNodes and starts the sequencer process (quorum 2). */
export async function startSoakNetwork(cp: ControlPlane, dir: string, opts: SoakNetworkOptions, progress: (m: string) => void): Promise<SoakNetwork> {
  const { partners } = opts;
  const kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { userAgent: 'threatmesh-soak' });
  try {
    const ca = await LocalCa.open(join(dir, 'pki'), 'threatmesh-soak-ca');
    const ids = Array.from({ length: partners }, (_, i) => `soak-${String(i).padStart(3, '0')}`);
    progress(`${partners} partner identities: Ed25519 keys and mTLS client certificates (openssl)`);
    const certs = await mapLimit(ids, 4, (id) => ca.issue(id, 'client'));
    const seqCert = await ca.issue(SEQUENCER_ID, 'server');
    const read = (p: string): Promise<string> => readFile(p, 'utf8');
    const identities: SoakIdentity[] = await Promise.all(ids.map(async (id, i) => ({ id, key: SigningKey.generate(), certPem: await read(certs[i]!.certPath), keyPem: await read(certs[i]!.keyPath) })));
    const seqKey = SigningKey.generate();
    const seqKeyPath = join(dir, 'sequencer.signing.pem');
    await writeFile(seqKeyPath, seqKey.toPem(), { mode: 0o600 });
    progress(`CRDs, namespace ${SOAK_NAMESPACE} and ${partners + 1} PartnerNodes`);
    await applyManifests(kube, await loadYamlDir('crds'), 'threatmesh-soak');
    await applyManifests(kube, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SOAK_NAMESPACE } },
      partnerNode(SEQUENCER_ID, seqKey, ['sequencer']),
      ...identities.map((p) => partnerNode(p.id, p.key, ['contributor', 'voter', 'consumer'])),
    ], 'threatmesh-soak');
    const [port, metricsPort] = [await stablePort(), await stablePort()];
    const probe = probeFlags(opts.probeDir);
    const sequencer = await spawnChild('threatmesh sequencer', [...probe.args, ...(opts.nodeOptions ?? []), MAIN, '--exit-on-stdin-eof', 'sequencer', '--kubeconfig', cp.kubeconfigPath, '--namespace', SOAK_NAMESPACE,
      '--listen', `127.0.0.1:${port}`, '--partner-id', SEQUENCER_ID, '--signing-key', seqKeyPath, '--tls-cert', seqCert.certPath, '--tls-key', seqCert.keyPath, '--tls-ca', seqCert.caPath,
      '--mongodb-uri', cp.mongoUri, '--database', `soak_${Date.now().toString(36)}`, '--quorum', '2', '--metrics-bind', `127.0.0.1:${metricsPort}`,
      ...(opts.entryCache !== undefined ? ['--entry-cache', String(opts.entryCache)] : [])], join(dir, 'sequencer.log'), { ...opts.env, ...probe.env });
    progress(`threatmesh sequencer (pid ${sequencer.process.pid}) on 127.0.0.1:${port}; log ${join(dir, 'sequencer.log')}`);
    try {
      await ready(metricsPort, 120_000, sequencer);
    } catch (err) {
      await sequencer.stop();
      throw err;
    }
    return {
      sequencer, address: `127.0.0.1:${port}`, metricsPort, caPem: await read(ca.caPath), partners: identities,
      stop: async () => {
        // A profiling sequencer (--cpu-prof) writes its profile as it exits: give it time.
        await sequencer.stop((opts.nodeOptions ?? []).length > 0 ? 120_000 : 15_000);
        kube.close();
      },
    };
  } catch (err) {
    kube.close();
    throw err;
  }
}
