/**
 * The chaos network: a sequencer cluster running two sequencer replicas under leader election
 * and three partner clusters, each with its own kube-apiserver and FerretDB and its operator,
 * all on loopback with identities from one local CA (the sandbox's, dev/sandbox). Every
 * connection between processes goes through a {@link Link} (a TCP proxy the faults can cut):
 * partner→sequencer, partner→partner (gossip), and each ThreatMesh process → its own
 * apiserver and database. Partner operators run under libfaketime with a clock file, so a
 * partner's clock can be stepped while it runs. Used by `npm run chaos` and its journey.
 */
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WEBHOOK_PATH, webhookConfiguration } from '../../operator/src/api/manifests.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import type { Binaries } from '../../operator/src/dev/controlplane/instance.ts';
import type { StartBound } from '../../operator/src/dev/controlplane/process.ts';
import { readManifestDir } from '../../operator/src/dev/sandbox/manifests.ts';
import { memberNode, NETWORK_NAMESPACE, partnerIds, SEQUENCER_ID } from '../../operator/src/dev/sandbox/network.ts';
import { loadOrCreatePartners, type LocalPartner } from '../../operator/src/dev/sandbox/partners.ts';
import { LocalCa, readTlsMaterial, type PartyFiles } from '../../operator/src/dev/sandbox/pki.ts';
import { startFeedServer, type FeedServer } from '../../operator/src/dev/sandbox/feedserver.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { startAll } from '../../operator/src/dev/controlplane/startall.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { startCluster, type Cluster } from './cluster.ts';
import { startLink, type Link } from './link.ts';
import { Part, type UnaskedExit } from './parts.ts';
import { stablePort } from './ports.ts';

const CRDS_DIR = new URL('../../crds/', import.meta.url).pathname;
const MAIN = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const FIELD_MANAGER = 'threatmesh-chaos';
/** Where Debian's faketime package puts the library. */
export const FAKETIME_LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];

/** One party: its cluster, identity and ThreatMesh processes. */
export interface ChaosParty {
  readonly id: string;
  readonly role: 'sequencer' | 'partner';
  readonly cluster: Cluster;
  readonly key: LocalPartner;
  readonly tls: PartyFiles;
  /** Sequencer: its two replicas; partner: its operator. */
  readonly processes: readonly Part[];
  /** Partner: the libfaketime clock file of its operator (undefined without libfaketime). */
  readonly clockFile: string | undefined;
}

/** The started network. */
export interface ChaosNetwork {
  readonly dir: string;
  readonly quorum: number;
  readonly sequencer: ChaosParty;
  readonly partners: readonly ChaosParty[];
  /** Every link by name (`partner-a→sequencer`, `partner-a→partner-b`, `partner-a→apiserver`, `sequencer→mongodb`...). */
  readonly links: ReadonlyMap<string, Link>;
  readonly feeds: FeedServer;
  /** Files the feed server serves by name. */
  readonly feedFiles: Map<string, string>;
  /** Exits nobody asked for, as they happen. */
  readonly exits: UnaskedExit[];
  /** True when clocks can be skewed (libfaketime found). */
  readonly canSkew: boolean;
  /** Every process the faults may kill. */
  parts(): Part[];
  /** The sequencer replica serving now (its /readyz answers 200), if any. */
  leader(): Promise<Part | undefined>;
  /** A client of the sequencer acting as `partnerId` (its certificate), over a link no fault touches. */
  analyst(partnerId: string): Promise<ExchangeClient>;
  /** Steps a partner's clock to `offsetSeconds` from the real time (its operator notices within a second). */
  skew(partnerId: string, offsetSeconds: number): Promise<void>;
  stop(): Promise<void>;
}

/** How to start it. */
export interface ChaosNetworkOptions {
  readonly dir: string;
  readonly binaries: Binaries;
  /** Size of each partner database's tmpfs. @default 512 MiB */
  readonly diskBytes?: number;
  /**
   * How long each process's start may take (controlplane/process.ts): one that exits fails the
   * start at once, one that stalls sooner; run.ts raises the cap with --start-timeout.
   * @default the defaults of StartBound
   */
  readonly start?: StartBound;
  readonly progress: (message: string) => void;
}

async function findFaketime(): Promise<string | undefined> {
  for (const p of FAKETIME_LIBS) if (await access(p).then(() => true, () => false)) return p;
  return undefined;
}

async function healthy(port: number, path: string): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return res?.status === 200;
}

interface Ports { metrics: number; exchange: number; webhook: number }

/** The partners of every chaos network: what a fault's target may name. */
export const CHAOS_PARTNERS: readonly string[] = partnerIds(3);

/** Starts the network; on failure stops what it started and rethrows. */
export async function startChaosNetwork(o: ChaosNetworkOptions): Promise<ChaosNetwork> {
  const ids = [...CHAOS_PARTNERS];
  const quorum = 2;
  await rm(o.dir, { recursive: true, force: true });
  await mkdir(join(o.dir, 'logs'), { recursive: true });
  const exits: UnaskedExit[] = [];
  const onExit = (e: UnaskedExit): void => void exits.push(e);
  const cleanups: Array<() => Promise<void>> = [];
  const sealed: Part[] = [];
  const stop = async (): Promise<void> => {
    // No heal or supervisor restart may bring a process back while (or after) the network stops.
    for (const p of sealed) p.seal();
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    o.progress('identities: Ed25519 keys and mTLS certificates');
    const all = [SEQUENCER_ID, ...ids];
    const keys = await loadOrCreatePartners(o.dir, all.map((id) => ({ id, roles: [] })));
    const ca = await LocalCa.open(join(o.dir, 'pki'), 'threatmesh-chaos-ca');
    const certs = await Promise.all([ca.issue(SEQUENCER_ID, 'server'), ...ids.map((id) => ca.issue(id, 'both'))]);
    o.progress('4 clusters: kube-apiserver + FerretDB each (partner databases on tmpfs when possible)');
    const clusters = await startAll(all.map((id, i) => startCluster({
      name: id, dir: join(o.dir, 'clusters', id), binaries: o.binaries, onExit, start: o.start ?? {},
      ...(i > 0 ? { diskBytes: o.diskBytes ?? 512 << 20 } : {}),
    })), (c) => c.stop());
    for (const c of clusters) cleanups.push(() => c.stop());
    sealed.push(...clusters.flatMap((c) => [c.apiserver, c.ferretdb]));
    const ports: Ports[] = [];
    for (const _ of all) ports.push({ metrics: await stablePort(), exchange: await stablePort(), webhook: await stablePort() });
    const replicaPorts = [await stablePort(), await stablePort()];
    const replicaMetrics = [ports[0]!.metrics, await stablePort()];

    const links = new Map<string, Link>();
    const link = async (name: string, targets: () => readonly number[]): Promise<Link> => {
      const l = await startLink(name, targets);
      links.set(name, l);
      cleanups.push(() => l.close());
      return l;
    };
    for (const [i, id] of all.entries()) {
      await link(`${id}→apiserver`, () => [clusters[i]!.apiPort]);
      await link(`${id}→mongodb`, () => [clusters[i]!.mongoPort]);
    }
    for (const [k, id] of ids.entries()) {
      await link(`${id}→${SEQUENCER_ID}`, () => replicaPorts);
      for (const [j, peer] of ids.entries()) if (j !== k) await link(`${id}→${peer}`, () => [ports[j + 1]!.exchange]);
    }
    const analystLink = await startLink('analyst→sequencer', () => replicaPorts);
    cleanups.push(() => analystLink.close());

    o.progress('crds/, the namespace and each cluster\'s PartnerNodes (endpoints through its links)');
    const crds = (await readManifestDir(CRDS_DIR)).map((s) => s.object);
    const nodesFor = (viewer: string): PartnerNode[] => all.map((id, i) => {
      const port = viewer === SEQUENCER_ID || viewer === id ? ports[i]!.exchange : links.get(`${viewer}→${id}`)!.port;
      return memberNode(id, keys[i]!, i === 0 ? ['sequencer'] : ['contributor', 'voter', 'consumer'], port);
    });
    await Promise.all(clusters.map(async (c, i) => {
      await applyManifests(c.client, crds, FIELD_MANAGER);
      await applyManifests(c.client, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NETWORK_NAMESPACE } }, ...nodesFor(all[i]!)], FIELD_MANAGER);
    }));

    const faketime = await findFaketime();
    const feedFiles = new Map<string, string>();
    const feeds = await startFeedServer(feedFiles);
    cleanups.push(() => feeds.close());
    const tlsArgs = (f: PartyFiles): string[] => ['--tls-cert', f.certPath, '--tls-key', f.keyPath, '--tls-ca', f.caPath];
    const viaApi = async (i: number): Promise<string> => clusters[i]!.kubeconfigVia(links.get(`${all[i]}→apiserver`)!.port, 'kubeconfig-via-link');
    const viaMongo = (i: number): string => `mongodb://127.0.0.1:${links.get(`${all[i]}→mongodb`)!.port}/`;

    const seqKube = await viaApi(0);
    const replicas = replicaPorts.map((port, r) => new Part({
      name: `sequencer-${r}`, kind: 'sequencer', command: process.execPath, logPath: join(o.dir, 'logs', `sequencer-${r}.log`),
      args: [MAIN, '--exit-on-stdin-eof', 'sequencer', '--kubeconfig', seqKube, '--namespace', NETWORK_NAMESPACE, '--listen', `127.0.0.1:${port}`,
        '--partner-id', SEQUENCER_ID, '--signing-key', keys[0]!.keyPath, ...tlsArgs(certs[0]), '--mongodb-uri', viaMongo(0), '--quorum', String(quorum),
        '--metrics-bind', `127.0.0.1:${replicaMetrics[r]}`, '--leader-elect', '--identity', `sequencer-${r}`],
      ready: () => healthy(replicaMetrics[r]!, '/healthz'),
    }, onExit));
    cleanups.push(async () => { await Promise.all(replicas.map((p) => p.close())); });
    sealed.push(...replicas);
    o.progress('the sequencer: 2 replicas, one Lease');
    for (const r of replicas) await r.start();
    await Promise.all(replicas.map((r) => r.waitReady(o.start ?? {})));

    const parties: ChaosParty[] = [];
    for (const [k, id] of ids.entries()) {
      const i = k + 1;
      const clockFile = faketime === undefined ? undefined : join(o.dir, 'clusters', id, 'clock');
      if (clockFile !== undefined) await writeFile(clockFile, '+0\n');
      const env: Record<string, string> = faketime === undefined || clockFile === undefined ? {} : { LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
      const op = new Part({
        name: `${id} operator`, kind: 'operator', command: process.execPath, env, logPath: join(o.dir, 'logs', `${id}.log`),
        args: [MAIN, '--exit-on-stdin-eof', 'operator', '--kubeconfig', await viaApi(i), '--namespace', NETWORK_NAMESPACE, '--metrics-bind', `127.0.0.1:${ports[i]!.metrics}`,
          '--webhook-bind', `127.0.0.1:${ports[i]!.webhook}`, '--webhook-cert', certs[i]!.certPath, '--webhook-key', certs[i]!.keyPath,
          '--executor', 'inprocess', '--leader-elect', '--identity', id, '--partner-id', id, '--signing-key', keys[i]!.keyPath, '--allow-internal-feeds', '127.0.0.1/32',
          '--quorum', String(quorum), '--exchange', '--exchange-namespace', NETWORK_NAMESPACE, ...tlsArgs(certs[i]!), '--mongodb-uri', viaMongo(i),
          '--gossip-bind', `127.0.0.1:${ports[i]!.exchange}`, '--sync-interval', '1s'],
        ready: () => healthy(ports[i]!.metrics, '/readyz'),
      }, onExit);
      parties.push({ id, role: 'partner', cluster: clusters[i]!, key: keys[i]!, tls: certs[i]!, processes: [op], clockFile });
      sealed.push(op);
    }
    cleanups.push(async () => { await Promise.all(parties.map((p) => p.processes[0]!.close())); });
    o.progress('3 partner operators');
    for (const p of parties) await p.processes[0]!.start();
    await Promise.all(parties.map((p) => p.processes[0]!.waitReady(o.start ?? {})));
    const caBundle = Buffer.from(await readFile(ca.caPath)).toString('base64');
    await Promise.all(parties.map((p, k) => applyManifests(p.cluster.client, [webhookConfiguration({ url: `https://127.0.0.1:${ports[k + 1]!.webhook}${WEBHOOK_PATH}` }, caBundle) as unknown as KubeObject], FIELD_MANAGER)));

    const sequencer: ChaosParty = { id: SEQUENCER_ID, role: 'sequencer', cluster: clusters[0]!, key: keys[0]!, tls: certs[0], processes: replicas, clockFile: undefined };
    const byId = new Map(parties.map((p) => [p.id, p]));
    const clients: ExchangeClient[] = [];
    cleanups.push(() => Promise.resolve(clients.forEach((c) => c.close())));
    return {
      dir: o.dir, quorum, sequencer, partners: parties, links, feeds, feedFiles, exits, canSkew: faketime !== undefined,
      parts: () => [...clusters.flatMap((c) => [c.apiserver, c.ferretdb]), ...replicas, ...parties.map((p) => p.processes[0]!)],
      leader: async () => {
        const serving = await Promise.all(replicaMetrics.map((port) => healthy(port, '/readyz')));
        return replicas[serving.indexOf(true)];
      },
      analyst: async (partnerId) => {
        const p = byId.get(partnerId);
        if (p === undefined) throw new Error(`no partner ${partnerId}`);
        const c = new ExchangeClient({ address: `127.0.0.1:${analystLink.port}`, tls: await readTlsMaterial(p.tls), serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 3 } });
        clients.push(c);
        return c;
      },
      skew: async (partnerId, offsetSeconds) => {
        const f = byId.get(partnerId)?.clockFile;
        if (f === undefined) throw new Error(`cannot skew ${partnerId}: libfaketime is not installed (bash scripts/install-faketime.sh)`);
        await writeFile(f, `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}s\n`);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
