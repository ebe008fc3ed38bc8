/**
 * The `kind` target of the journeys: the network installed by kindinstall.ts into clusters given
 * by kubeconfigs, the ThreatMesh processes running there as Deployments from the image. The test
 * process reaches pods with `kubectl port-forward` (metrics, the sequencer's gRPC, MongoDB) and
 * stops or starts a party by scaling its Deployment. The feed server listens on an address of
 * this machine the pods reach.
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { FEEDS } from '../../../operator/src/api/schemas/index.ts';
import type { Feed } from '../../../operator/src/api/types.ts';
import { countedSequencerView, readPartnerView, NETWORK_NAMESPACE } from '../../../operator/src/dev/sandbox/network.ts';
import { LogTally } from '../../../operator/src/dev/sandbox/convergence.ts';
import { startFeedServer, type FeedServer } from '../../../operator/src/dev/sandbox/feedserver.ts';
import { readTlsMaterial } from '../../../operator/src/dev/sandbox/pki.ts';
import { ExchangeClient } from '../../../operator/src/exchange/protocol/client.ts';
import { applyManifests } from '../../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../../operator/src/runtime/types.ts';
import { SigningKey } from '../../../operator/src/domain/signature.ts';
import { tools } from '../install.ts';
import { publishRotation } from './rotate.ts';
import type { JourneyNetwork, JourneyOptions, JourneyParty, JourneyTarget } from './index.ts';
import { installKindNetwork, SECRETS as SECRET_NAMES, type KindParty } from './kindinstall.ts';
import { portForward, type PortForward } from './portforward.ts';

const DEPLOYMENTS: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true };
const SECRETS: ResourceRef = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

/** Deployment, metrics port and replicas of each role's ThreatMesh process (the chart's names; replicas as partyValues sets them). */
export const WORKLOAD = { sequencer: { deployment: 'threatmesh-sequencer', metricsPort: 8081 }, partner: { deployment: 'threatmesh-operator', metricsPort: 8080 } } as const;

/** How the kind target runs; `rollout: false` installs without waiting for pods (a control plane without kubelets). */
export interface KindRun {
  /** Wait for Deployments to become available. @default true */
  readonly rollout?: boolean;
  /** kubectl for port-forward. @default kubectl on PATH */
  readonly kubectl?: string;
  /** helm. @default scripts/tools.sh's */
  readonly helm?: string;
}

interface Deployment extends KubeObject {
  spec?: { replicas?: number };
  status?: { availableReplicas?: number; replicas?: number };
}

/** Waits until the Deployment has `want` available replicas (0: none left); throws with its status after `ms`. */
export async function waitForReplicas(p: Pick<KindParty, 'id' | 'client'>, name: string, want: number, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: Deployment | undefined;
  while (Date.now() < deadline) {
    last = await p.client.get<Deployment>(DEPLOYMENTS, name, NETWORK_NAMESPACE);
    const available = last?.status?.availableReplicas ?? 0;
    if (want === 0 ? (last?.status?.replicas ?? 0) === 0 : available >= want) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`${p.id}: Deployment ${name} did not reach ${want} available replicas in ${ms} ms: ${JSON.stringify(last?.status)}; see kubectl -n ${NETWORK_NAMESPACE} describe deploy/${name}`);
}

async function scale(p: KindParty, replicas: number, rollout: boolean): Promise<void> {
  const name = WORKLOAD[p.role].deployment;
  await p.client.patch(DEPLOYMENTS, name, NETWORK_NAMESPACE, { spec: { replicas } });
  if (rollout) await waitForReplicas(p, name, replicas);
}

/** The kind network's steps over installed parties. */
function kindSteps(parties: readonly KindParty[], feeds: FeedServer, run: Required<KindRun>, opts: JourneyOptions): JourneyNetwork {
  const byId = new Map(parties.map((p) => [p.id, p]));
  const of = (p: JourneyParty): KindParty => byId.get(p.id) ?? assertNever(p.id, [...byId.keys()]);
  const forwards: PortForward[] = [];
  const forward = async (p: KindParty, resource: string, port: number): Promise<number> => {
    const f = await portForward(run.kubectl, p.kubeconfig, NETWORK_NAMESPACE, resource, port);
    forwards.push(f);
    return f.port;
  };
  const stopped = new Set<string>();
  let reader: ExchangeClient | undefined;
  const tally = new LogTally();
  const seq = parties[0]!;
  const partners = parties.slice(1);
  const diagnostics = `kubectl --kubeconfig <party's> -n ${NETWORK_NAMESPACE} logs deploy/${WORKLOAD.partner.deployment} (or ${WORKLOAD.sequencer.deployment}); values files in ${opts.dir}`;
  return {
    target: 'kind', quorum: opts.quorum, sequencer: seq, partners, feedBaseUrl: feeds.baseUrl,
    diagnostics,
    explain: () => Promise.resolve(diagnostics),
    addFeed: async (p, feed) => {
      await applyManifests(of(p).client, [{ ...feed, metadata: { ...feed.metadata, namespace: NETWORK_NAMESPACE } }], 'threatmesh-e2e');
    },
    view: async (feed) => {
      if (reader === undefined && run.rollout) {
        const port = await forward(seq, `svc/${WORKLOAD.sequencer.deployment}`, 8443);
        reader = new ExchangeClient({ address: `127.0.0.1:${port}`, tls: await readTlsMaterial(partners[0]!.tls), serverName: 'localhost', deadlineMs: 5000, retry: { attempts: 1 } });
      }
      const [sequencer, views, f] = await Promise.all([
        reader ? countedSequencerView(reader, tally) : Promise.resolve(undefined),
        Promise.all(partners.map((p) => readPartnerView(p.id, p.client, !stopped.has(p.id)))),
        of(feed.partner).client.get<Feed>(FEEDS, feed.name, NETWORK_NAMESPACE).catch(() => undefined),
      ]);
      const last = f?.status?.lastRun;
      return { sequencer, partners: views, feedDone: last?.completionTime !== undefined, ...(last?.summary !== undefined ? { feedSummary: last.summary } : {}) };
    },
    metrics: async (p) => {
      const k = of(p);
      const port = await forward(k, `deploy/${WORKLOAD[k.role].deployment}`, WORKLOAD[k.role].metricsPort);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (res.status !== 200) throw new Error(`${p.id}: /metrics answered ${res.status}`);
      return res.text();
    },
    mongoUri: async (p) => {
      const k = of(p);
      const ca = join(opts.dir, `${k.id}-mongodb-ca.crt`);
      const secret = await k.client.get<KubeObject & { data?: Record<string, string> }>(SECRETS, 'threatmesh-mongodb-tls', NETWORK_NAMESPACE);
      await writeFile(ca, Buffer.from(secret?.data?.['ca.crt'] ?? '', 'base64'));
      const port = await forward(k, 'svc/threatmesh-mongodb-svc', 27017);
      return `mongodb://threatmesh:${encodeURIComponent(k.mongoPassword)}@127.0.0.1:${port}/?authSource=admin&tls=true&tlsCAFile=${encodeURIComponent(ca)}&tlsAllowInvalidHostnames=true&directConnection=true`;
    },
    stopParty: async (p) => {
      await scale(of(p), 0, run.rollout);
      stopped.add(p.id);
    },
    startParty: async (p) => {
      await scale(of(p), 1, run.rollout);
      stopped.delete(p.id);
    },
    rotateKey: async (p, overlapMs) => {
      const k = of(p);
      const next = SigningKey.generate();
      await publishRotation(parties.map((x) => x.client), k.id, next.publicKey, new Date(Date.now() + overlapMs));
      await scale(k, 0, run.rollout);
      await k.client.patch(SECRETS, SECRET_NAMES.signing, NETWORK_NAMESPACE, { stringData: { 'private.pem': next.toPem() } });
      await scale(k, 1, run.rollout);
    },
    stop: async () => {
      reader?.close();
      for (const f of forwards.splice(0)) f.close();
      for (const p of parties) p.client.close();
      await feeds.close();
    },
  };
}

function assertNever(id: string, known: readonly string[]): never {
  throw new Error(`no party ${id} in this network (parties: ${known.join(', ')})`);
}

/**
 * Installs the network into the target's clusters (kindinstall.ts), waits for the sequencer,
 * the operators and the front doors to be available (unless `run.rollout` is false), and returns
 * the journey API over it.
 */
export async function startKindNetwork(target: Extract<JourneyTarget, { name: 'kind' }>, opts: JourneyOptions, run: KindRun = {}): Promise<JourneyNetwork> {
  const full: Required<KindRun> = { rollout: run.rollout ?? true, kubectl: run.kubectl ?? 'kubectl', helm: run.helm ?? target.helm ?? (await tools()).HELM };
  const feeds = await startFeedServer(opts.feeds, target.feedHost);
  try {
    const port = Number(new URL(feeds.baseUrl).port);
    const parties = await installKindNetwork({ kubeconfigs: target.kubeconfigs, dir: opts.dir, image: target.image, quorum: opts.quorum, helm: full.helm, feed: { host: target.feedHost, port } });
    if (full.rollout) {
      await Promise.all(parties.map(async (p) => {
        await waitForReplicas(p, WORKLOAD[p.role].deployment, 1);
        await waitForReplicas(p, 'threatmesh-haproxy', 1);
      }));
    }
    return kindSteps(parties, feeds, full, opts);
  } catch (err) {
    await feeds.close();
    throw err;
  }
}
