/**
 * A whole ThreatMesh network on one machine: one sequencer cluster and N partner clusters, each
 * with its own kube-apiserver and MongoDB-wire server (the local control plane), its own
 * ThreatMesh process (`threatmesh sequencer`, or `threatmesh operator --exchange`) as a child
 * process, leader-elected on a Lease and (partners) serving the admission webhook their cluster
 * calls, as the installed Deployments are (one replica each, so it leads at once), identities from
 * one local CA, and the same PartnerNodes in every cluster. Used by
 * `threatmesh sandbox` and by the end-to-end journeys, which stop and restart partners.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WEBHOOK_PATH, webhookConfiguration } from '../../api/manifests.ts';
import { API_VERSION, FEEDS, PARTNER_NODES, THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { Feed, PartnerNode, Role, ThreatIndicator } from '../../api/types.ts';
import type { Binaries, FerretBackend, Instance } from '../controlplane/instance.ts';
import { startInstance } from '../controlplane/instance.ts';
import { startAll } from '../controlplane/startall.ts';
import { startPostgresCluster, type PostgresCluster } from '../controlplane/postgres.ts';
import { freePorts } from '../controlplane/probe.ts';
import { launch, waitUntil, type ManagedProcess, type StartBound } from '../controlplane/process.ts';
import { ExchangeClient } from '../../exchange/protocol/client.ts';
import type { Logger } from '../../log.ts';
import { KubeHttpClient } from '../../runtime/kube.ts';
import { loadKubeconfig } from '../../runtime/kubeconfig.ts';
import { applyManifests } from '../../runtime/manifest.ts';
import type { KubeObject } from '../../runtime/types.ts';
import type { Namespace } from '../../runtime/kinds.ts';
import { LogTally, type NetworkView, type PartnerView, type SequencerView } from './convergence.ts';
import { indicatorDigest } from '../../domain/canonical.ts';
import { readManifestDir } from './manifests.ts';
import { loadOrCreatePartners, type LocalPartner } from './partners.ts';
import { LocalCa, readTlsMaterial, type PartyFiles } from './pki.ts';
import { provisionSampleConsumer, taxiiAccess, type TaxiiAccess } from '../../serve/sample.ts';

/** Namespace of the network's PartnerNodes, Feeds and replicated ThreatIndicators in every cluster. */
export const NETWORK_NAMESPACE = 'threatmesh';
/** Partner id (and certificate CN) of the sequencer. */
export const SEQUENCER_ID = 'sequencer';
const FIELD_MANAGER = 'threatmesh-sandbox';
const CRDS_DIR = new URL('../../../../crds/', import.meta.url);
const PARTNER_ROLES: readonly Role[] = ['contributor', 'voter', 'consumer'];

/** How to start the network. */
export interface NetworkOptions {
  /** State directory: clusters, databases, keys, certificates, logs. */
  readonly dir: string;
  /** Number of partner clusters (each partner is a voter). */
  readonly partners: number;
  /** Approvals needed; default ⌊2n/3⌋+1 of the n partners. */
  readonly quorum?: number;
  /** Wipe clusters, databases, keys and certificates in `dir` first. */
  readonly fresh: boolean;
  readonly binaries: Binaries;
  /**
   * FerretDB's storage. With `postgresql`, one PostgreSQL cluster under `dir`/postgres holds a
   * database per party, stopped with the network. @default 'sqlite'
   */
  readonly backend?: FerretBackend;
  /** How long each server's and process's start may take (controlplane/process.ts). */
  readonly start: StartBound;
  /** The operators' status, gossip and voting period (a duration such as 1s). */
  readonly syncInterval?: string;
  /** How to run this program's CLI in child processes. */
  readonly cli: { readonly node: string; readonly main: string };
  readonly log: Logger;
  /** One call per step, for progress output. */
  readonly progress: (message: string, data?: Record<string, unknown>) => void;
}

/** A ThreatMesh process of the network (sequencer or partner operator) with its cluster. */
export interface Member {
  readonly id: string;
  readonly cluster: Instance;
  readonly client: KubeHttpClient;
  readonly keyPath: string;
  readonly tls: PartyFiles;
  /** Port of /metrics, /healthz and /readyz. */
  readonly metricsPort: number;
  /** The sequencer's gRPC port, or a partner's gossip port. */
  readonly exchangePort: number;
  /** Log file of the process. */
  readonly logPath: string;
  /** A partner's HTTPS server (`threatmesh serve`: TAXII 2.1, exports, reports) and its sample TLP:GREEN consumer. */
  readonly serving?: Serving;
  running(): boolean;
  /** Starts the process and waits until /readyz answers 200 (no-op when running). */
  start(): Promise<void>;
  /** Stops the process (SIGTERM, SIGKILL after `graceMs`); the cluster keeps running. */
  stop(graceMs?: number): Promise<void>;
}

/** A partner's `threatmesh serve` process and how a TAXII client reaches it. */
export interface Serving {
  /** The process; its metrics port answers /readyz. */
  readonly process: Pick<Member, 'logPath' | 'metricsPort' | 'running' | 'start' | 'stop'>;
  /** HTTPS port of TAXII, exports and reports. */
  readonly port: number;
  /** Discovery URL, the sample consumer's bearer token and the CA file of the server certificate. */
  readonly taxii: TaxiiAccess;
}

/** A started network. */
export interface Network {
  readonly dir: string;
  readonly quorum: number;
  readonly sequencer: Member;
  readonly partners: readonly Member[];
  /** Creates `feed` in `partner`'s cluster (its operator ingests it and proposes what is new). */
  addFeed(partner: Member, feed: Feed): Promise<void>;
  /** Reads every cluster and the sequencer once; `feed` names the Feed whose first run must complete. */
  view(feed: { readonly partner: Member; readonly name: string }): Promise<NetworkView>;
  /** Stops every process and cluster. */
  stop(): Promise<void>;
}

/** The default quorum of n voters, as the domain core computes it: ⌊2n/3⌋+1. */
export function defaultQuorum(voters: number): number {
  return Math.floor((2 * voters) / 3) + 1;
}

/** Partner ids partner-a, partner-b, …, partner-z, then partner-27…. */
export function partnerIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `partner-${i < 26 ? String.fromCharCode(97 + i) : String(i + 1)}`);
}

/** The PartnerNode of one member, as every cluster of the network holds it. */
export function memberNode(id: string, key: LocalPartner, roles: readonly Role[], endpointPort: number): PartnerNode {
  return {
    apiVersion: API_VERSION,
    kind: 'PartnerNode',
    metadata: { name: id, namespace: NETWORK_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'threatmesh-sandbox' } },
    spec: {
      partnerId: id, organization: `${id} (local network)`, endpoint: `127.0.0.1:${endpointPort}`,
      publicKey: key.key.publicKey.toRawBase64(), roles: [...roles], maxTlp: 'amber',
    },
  };
}

// The network's one PostgreSQL cluster (a database per party), stopped after every FerretDB.
async function startSharedPostgres(o: NetworkOptions, parties: number, cleanups: Array<() => Promise<void>>): Promise<PostgresCluster | undefined> {
  if (o.backend !== 'postgresql') return undefined;
  const pg = await startPostgresCluster({ name: 'network', dir: join(o.dir, 'postgres'), databases: parties, start: o.start });
  cleanups.push(() => pg.stop());
  return pg;
}

async function startClusters(o: NetworkOptions, ids: readonly string[], cleanups: Array<() => Promise<void>>): Promise<Instance[]> {
  const postgres = await startSharedPostgres(o, ids.length, cleanups);
  const up = await startAll(ids.map((id) => startInstance({
    name: id, dir: join(o.dir, 'clusters', id), binaries: o.binaries, mongo: true, controllers: true, fresh: o.fresh, start: o.start, log: o.log,
    ...(postgres ? { backend: 'postgresql' as const, postgres } : {}),
  })), (i) => i.stop());
  for (const i of up) cleanups.push(() => i.stop());
  return up;
}

async function readyz(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

interface MemberPlan {
  readonly id: string;
  readonly cluster: Instance;
  readonly client: KubeHttpClient;
  readonly key: LocalPartner;
  readonly tls: PartyFiles;
  readonly metricsPort: number;
  readonly exchangePort: number;
  readonly args: readonly string[];
  readonly serving?: Serving;
}

function member(o: NetworkOptions, plan: MemberPlan): Member {
  let proc: ManagedProcess | undefined;
  const logPath = join(o.dir, 'logs', `${plan.id}.log`);
  const running = (): boolean => proc !== undefined && proc.exitStatus() === undefined;
  return {
    id: plan.id, cluster: plan.cluster, client: plan.client, keyPath: plan.key.keyPath, tls: plan.tls,
    metricsPort: plan.metricsPort, exchangePort: plan.exchangePort, logPath, running, ...(plan.serving ? { serving: plan.serving } : {}),
    start: async () => {
      if (running()) return;
      proc = await launch({ name: plan.id, command: o.cli.node, args: [o.cli.main, '--exit-on-stdin-eof', ...plan.args], logPath });
      await waitUntil(`${plan.id}: /readyz answered 200`, proc, () => readyz(plan.metricsPort), { ...o.start, intervalMs: 250 });
    },
    stop: async (graceMs = 20_000) => {
      await proc?.stop(graceMs);
    },
  };
}

// A partner's `threatmesh serve`: its sample GREEN consumer, its own certificate (SAN 127.0.0.1),
// the replica's database, and its cluster for contributors' proposals.
async function servingOf(o: NetworkOptions, p: MemberPlan, caPath: string, ports: { readonly port: number; readonly metrics: number }): Promise<Serving> {
  const consumer = await provisionSampleConsumer(join(o.dir, 'serve', p.id));
  const { port, metrics: metricsPort } = ports;
  const process = member(o, {
    ...p, id: `${p.id}-serve`, metricsPort, args: [
      'serve', '--partner-id', p.id, '--config', consumer.configPath, '--tls-cert', p.tls.certPath, '--tls-key', p.tls.keyPath,
      '--mongodb-uri', p.cluster.mongoUri ?? '', '--listen', `127.0.0.1:${port}`, '--metrics-bind', `127.0.0.1:${metricsPort}`,
      '--signing-key', p.key.keyPath, '--kubeconfig', p.cluster.kubeconfigPath, '--namespace', NETWORK_NAMESPACE,
    ],
  });
  return { process, port, taxii: taxiiAccess('127.0.0.1', port, consumer, caPath) };
}

function tlsArgs(f: PartyFiles): string[] {
  return ['--tls-cert', f.certPath, '--tls-key', f.keyPath, '--tls-ca', f.caPath];
}

async function prepareCluster(client: KubeHttpClient, nodes: readonly PartnerNode[]): Promise<void> {
  const crds = (await readManifestDir(CRDS_DIR.pathname)).map((s) => s.object);
  await applyManifests(client, crds, FIELD_MANAGER);
  const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NETWORK_NAMESPACE } };
  await applyManifests(client, [ns, ...nodes], FIELD_MANAGER);
}

/**
 * Starts the network: clusters in parallel, keys and certificates (kept in `dir` for restarts),
 * CRDs and PartnerNodes in every cluster, the sequencer, then every partner's operator. On
 * failure it stops what it started and rethrows.
 */
export async function startNetwork(o: NetworkOptions): Promise<Network> {
  if (!Number.isInteger(o.partners) || o.partners < 1) throw new Error(`--partners must be a whole number of at least 1, got ${o.partners}`);
  const ids = partnerIds(o.partners);
  const quorum = o.quorum ?? defaultQuorum(ids.length);
  if (quorum > ids.length) throw new Error(`--quorum ${quorum} can never be reached with ${ids.length} voting partners; use at most ${ids.length}`);
  if (o.fresh) await rm(o.dir, { recursive: true, force: true });
  await mkdir(join(o.dir, 'logs'), { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => o.log.warn('stopping part of the network failed', { err }));
  };
  try {
    o.progress(`issuing identities: Ed25519 keys and mTLS certificates for ${SEQUENCER_ID} and ${ids.join(', ')}`, { dir: o.dir });
    const keys = await loadOrCreatePartners(o.dir, [SEQUENCER_ID, ...ids].map((id) => ({ id, roles: [] })));
    const ca = await LocalCa.open(join(o.dir, 'pki'), 'threatmesh-local-network-ca');
    const certs = await Promise.all([ca.issue(SEQUENCER_ID, 'server'), ...ids.map((id) => ca.issue(id, 'both'))]);

    o.progress(`starting ${ids.length + 1} clusters (kube-apiserver + etcd + FerretDB each; FerretDB on ${o.backend === 'postgresql' ? 'one PostgreSQL cluster, a database per party' : 'SQLite'})`);
    const clusters = await startClusters(o, [SEQUENCER_ID, ...ids], cleanups);
    const clients = await Promise.all(clusters.map(async (c) => new KubeHttpClient(await loadKubeconfig(c.kubeconfigPath), { userAgent: FIELD_MANAGER })));
    cleanups.push(() => {
      for (const c of clients) c.close();
      return Promise.resolve();
    });
    // Every port of the network in one draw, so no two processes are handed the same one.
    const drawn = await freePorts(clusters.length * 5);
    const ports = clusters.map((_c, i) => ({ metrics: drawn[5 * i]!, exchange: drawn[5 * i + 1]!, webhook: drawn[5 * i + 2]!, serve: drawn[5 * i + 3]!, serveMetrics: drawn[5 * i + 4]! }));
    const nodes = [SEQUENCER_ID, ...ids].map((id, i) => memberNode(id, keys[i]!, i === 0 ? ['sequencer'] : PARTNER_ROLES, ports[i]!.exchange));
    o.progress('applying crds/ and the network\'s PartnerNodes in every cluster');
    await Promise.all(clients.map((c) => prepareCluster(c, nodes)));

    const plan = (i: number, args: string[]): MemberPlan => ({
      id: i === 0 ? SEQUENCER_ID : ids[i - 1]!, cluster: clusters[i]!, client: clients[i]!, key: keys[i]!, tls: certs[i]!,
      metricsPort: ports[i]!.metrics, exchangePort: ports[i]!.exchange, args,
    });
    const seq = member(o, plan(0, [
      'sequencer', '--kubeconfig', clusters[0]!.kubeconfigPath, '--namespace', NETWORK_NAMESPACE, '--listen', `127.0.0.1:${ports[0]!.exchange}`,
      '--partner-id', SEQUENCER_ID, '--signing-key', keys[0]!.keyPath, ...tlsArgs(certs[0]), '--mongodb-uri', clusters[0]!.mongoUri ?? '',
      '--quorum', String(quorum), '--metrics-bind', `127.0.0.1:${ports[0]!.metrics}`, '--leader-elect', '--identity', SEQUENCER_ID,
    ]));
    const servings = await Promise.all(ids.map((_id, k) => servingOf(o, plan(k + 1, []), ca.caPath, { port: ports[k + 1]!.serve, metrics: ports[k + 1]!.serveMetrics })));
    const partners = ids.map((id, k) => {
      const i = k + 1;
      const c = clusters[i]!;
      return member(o, { serving: servings[k]!, ...plan(i, [
        'operator', '--kubeconfig', c.kubeconfigPath, '--namespace', NETWORK_NAMESPACE, '--metrics-bind', `127.0.0.1:${ports[i]!.metrics}`,
        '--webhook-bind', `127.0.0.1:${ports[i]!.webhook}`, '--webhook-cert', certs[i]!.certPath, '--webhook-key', certs[i]!.keyPath,
        '--executor', 'inprocess', '--leader-elect', '--identity', id, '--partner-id', id, '--signing-key', keys[i]!.keyPath,
        // The sandbox serves its feeds on loopback (feedserver.ts): allow exactly that.
        '--allow-internal-feeds', '127.0.0.1/32',
        '--quorum', String(quorum), '--exchange', '--exchange-namespace', NETWORK_NAMESPACE, ...tlsArgs(certs[i]!), '--mongodb-uri', c.mongoUri ?? '',
        '--gossip-bind', `127.0.0.1:${ports[i]!.exchange}`, '--sync-interval', o.syncInterval ?? '1s',
      ]) });
    });
    cleanups.push(async () => {
      await Promise.all(servings.map((sv) => sv.process.stop()));
      await Promise.all(partners.map((p) => p.stop()));
      await seq.stop();
    });
    o.progress(`starting the sequencer (quorum ${quorum} of ${ids.length}) on 127.0.0.1:${seq.exchangePort}`, { log: seq.logPath });
    await seq.start();
    o.progress(`starting ${ids.length} partner operators`, { logs: partners.map((p) => p.logPath) });
    await Promise.all(partners.map((p) => p.start()));
    o.progress(`starting ${ids.length} partner HTTPS servers (TAXII 2.1, exports, reports)`, { logs: servings.map((sv) => sv.process.logPath) });
    await Promise.all(servings.map((sv) => sv.process.start()));
    // As installed, every ThreatIndicator write in a partner's cluster passes its operator's admission webhook.
    const caBundle = Buffer.from(await readFile(ca.caPath)).toString('base64');
    await Promise.all(partners.map((p, k) => applyManifests(p.client, [webhookConfiguration({ url: `https://127.0.0.1:${ports[k + 1]!.webhook}${WEBHOOK_PATH}` }, caBundle) as unknown as KubeObject], FIELD_MANAGER)));

    const reader = new ExchangeClient({
      address: `127.0.0.1:${seq.exchangePort}`, tls: await readTlsMaterial(partners[0]!.tls), serverName: 'localhost', deadlineMs: 5000, retry: { attempts: 1 },
    });
    cleanups.push(() => Promise.resolve(reader.close()));
    const tally = new LogTally();
    return {
      dir: o.dir, quorum, sequencer: seq, partners,
      addFeed: async (p, feed) => {
        await applyManifests(p.client, [{ ...feed, metadata: { ...feed.metadata, namespace: NETWORK_NAMESPACE } }], FIELD_MANAGER);
      },
      view: async (feed) => readView(reader, partners, feed, tally),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The sequencer's tree head and open rounds as `reader` gets them; undefined while it does not answer. */
export async function sequencerView(reader: ExchangeClient): Promise<SequencerView | undefined> {
  try {
    const [head, pending] = await Promise.all([reader.treeHead(), reader.listPending()]);
    return { treeSize: head.treeSize, rootHash: head.rootHash, pending: pending.length };
  } catch {
    return undefined;
  }
}

function replicaFields(st: PartnerNode['status']): Omit<PartnerView, 'name' | 'readable' | 'running' | 'phases'> {
  const cond = st?.conditions?.find((c) => c.type === 'Replicating');
  const out: { -readonly [K in keyof Omit<PartnerView, 'name' | 'readable' | 'running' | 'phases'>]: PartnerView[K] } = {};
  if (st?.logSize !== undefined) out.treeSize = st.logSize;
  if (st?.rootHash !== undefined) out.rootHash = st.rootHash;
  if (st?.lagEntries !== undefined) out.lagEntries = st.lagEntries;
  if (st?.lagSeconds !== undefined) out.lagSeconds = st.lagSeconds;
  if (cond) out.replicating = cond.status === 'True' ? 'True' : `False ${cond.reason ?? ''}`.trim();
  return out;
}

/**
 * Partner `name`'s view from its cluster (`client`): ThreatIndicators by phase and the replica
 * status its operator wrote on the sequencer's PartnerNode; `readable: false` when the API fails.
 */
export async function readPartnerView(name: string, client: KubeHttpClient, running: boolean): Promise<PartnerView> {
  try {
    const [pns, tis] = await Promise.all([
      client.list<PartnerNode>(PARTNER_NODES, { namespace: NETWORK_NAMESPACE }),
      client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NETWORK_NAMESPACE }),
    ]);
    const phases: Record<string, number> = {};
    for (const ti of tis.items) {
      const phase = ti.status?.phase ?? 'Proposed';
      phases[phase] = (phases[phase] ?? 0) + 1;
    }
    const st = pns.items.find((n) => n.spec.roles.includes('sequencer'))?.status;
    return { name, readable: true, running, phases, ...replicaFields(st) };
  } catch {
    return { name, readable: false, running, phases: {} };
  }
}

/**
 * Reads the log entries `tally` has not counted yet (unverified: the partners verify; this only
 * counts what they should show). A failed read leaves the rest for the next view.
 */
async function countLog(reader: ExchangeClient, tally: LogTally, treeSize: number): Promise<void> {
  try {
    for await (const r of reader.entries(tally.size, treeSize)) {
      if (!r.ok) return;
      tally.add(r.entry.index, indicatorDigest(r.entry.indicator), r.entry.kind);
    }
  } catch {
    // The sequencer is restarting or away: counted again on the next view.
  }
}

/** {@link sequencerView} with `activeEntries` once `tally` has counted the whole log (it reads the entries not counted yet). */
export async function countedSequencerView(reader: ExchangeClient, tally: LogTally): Promise<SequencerView | undefined> {
  const seq = await sequencerView(reader);
  if (seq === undefined) return undefined;
  if (tally.size < seq.treeSize) await countLog(reader, tally, seq.treeSize);
  return tally.size === seq.treeSize ? { ...seq, activeEntries: tally.active } : seq;
}

async function readView(reader: ExchangeClient, partners: readonly Member[], feed: { readonly partner: Member; readonly name: string }, tally: LogTally): Promise<NetworkView> {
  const [sequencer, views, f] = await Promise.all([
    countedSequencerView(reader, tally),
    Promise.all(partners.map((p) => readPartnerView(p.id, p.client, p.running()))),
    feed.partner.client.get<Feed>(FEEDS, feed.name, NETWORK_NAMESPACE).catch(() => undefined),
  ]);
  const last = f?.status?.lastRun;
  return {
    sequencer, partners: views, feedDone: last?.completionTime !== undefined,
    ...(last?.summary !== undefined ? { feedSummary: last.summary } : {}),
  };
}
