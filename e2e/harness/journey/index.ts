/**
 * The end-to-end journeys' network, one API over two targets:
 * - `local`: the sandbox's clusters on this machine (kube-apiserver + etcd + FerretDB each) with
 *   `threatmesh sequencer` and `threatmesh operator --exchange` as child processes;
 * - `kind`: clusters given by kubeconfigs (one per party; e2e/kind/run.sh creates them with kind),
 *   into which the harness installs the CRDs, the network's identities and PartnerNodes and the
 *   Helm chart, so the operator and sequencer run in the clusters from the image.
 * A journey starts the network with startJourneyNetwork and then only uses this API, so the kind
 * workflow runs the same journey code CI runs locally.
 */
import type { Feed } from '../../../operator/src/api/types.ts';
import type { NetworkView } from '../../../operator/src/dev/sandbox/convergence.ts';
import type { KubeHttpClient } from '../../../operator/src/runtime/kube.ts';
import type { TaxiiAccess } from '../../../operator/src/serve/sample.ts';

/** One party of the journey network, whichever target runs it. */
export interface JourneyParty {
  readonly id: string;
  readonly role: 'sequencer' | 'partner';
  /** The Kubernetes API of the party's own cluster. */
  readonly client: KubeHttpClient;
}

/** The running network a journey drives. */
export interface JourneyNetwork {
  readonly target: JourneyTarget['name'];
  readonly quorum: number;
  readonly sequencer: JourneyParty;
  readonly partners: readonly JourneyParty[];
  /** Base URL (ending in /) of the feed server as the partners' ingest reaches it. */
  readonly feedBaseUrl: string;
  /** Where to look when a step fails (log folder, kubectl hints). */
  readonly diagnostics: string;
  /**
   * What a failed step prints so CI output alone explains it: on the local target the last
   * warnings and errors of every ThreatMesh process (their log folder is deleted with the test's
   * temporary directory); on kind, `diagnostics`.
   */
  explain(): Promise<string>;
  /** Creates `feed` in the partner's cluster, in the network namespace. */
  addFeed(partner: JourneyParty, feed: Feed): Promise<void>;
  /** Reads every partner's cluster and the sequencer's tree head once; `feed` names the Feed whose first run must complete. */
  view(feed: { readonly partner: JourneyParty; readonly name: string }): Promise<NetworkView>;
  /** The Prometheus text exposition the party's ThreatMesh process serves on /metrics. */
  metrics(party: JourneyParty): Promise<string>;
  /** A MongoDB connection string this test process can use for the party's database. */
  mongoUri(party: JourneyParty): Promise<string>;
  /** Stops the party's ThreatMesh process (its cluster and database keep running). */
  stopParty(party: JourneyParty): Promise<void>;
  /** Starts it again and waits until it is ready. */
  startParty(party: JourneyParty): Promise<void>;
  /**
   * Rotates the party's signing key (a partner's voting key, the sequencer's tree-head key): the
   * new key published and the old retired (valid for signatures dated before now + `overlapMs`) in
   * every cluster's PartnerNode, then the party restarted with the new key.
   */
  rotateKey(party: JourneyParty, overlapMs: number): Promise<void>;
  /** Stops everything this harness started (the kind target leaves the clusters to run.sh). */
  stop(): Promise<void>;
  /**
   * Only on the local target (the kind target installs partners with serve off): each partner's
   * `threatmesh serve` with its sample TLP:GREEN consumer, and its cluster's kubeconfig file, so a
   * journey can run consumers and `threatmesh enforce` beside it.
   */
  readonly local?: {
    taxii(party: JourneyParty): TaxiiAccess;
    kubeconfig(party: JourneyParty): string;
  };
}

/** Which clusters the journeys run against. */
export type JourneyTarget =
  | { readonly name: 'local' }
  | {
    readonly name: 'kind';
    /** Kubeconfig path by party id; `sequencer` is the sequencer, every other id a partner. */
    readonly kubeconfigs: ReadonlyMap<string, string>;
    /** The ThreatMesh image the clusters run, repository:tag (loaded into kind by run.sh). */
    readonly image: string;
    /** Address of this machine the clusters' pods reach (the kind network's gateway): the feed server listens there. */
    readonly feedHost: string;
    /** helm 4 binary. @default scripts/tools.sh's (built from the Go module proxy) */
    readonly helm?: string | undefined;
  };

/** What a journey asks for. */
export interface JourneyOptions {
  /** A fresh folder for state: clusters, keys, certificates, logs, values files. */
  readonly dir: string;
  /** Partners of the local target (the kind target takes its parties from the kubeconfigs). */
  readonly partners: number;
  /** Approvals needed. */
  readonly quorum: number;
  /** Files the feed server serves by name, besides the bundled snapshots. */
  readonly feeds: ReadonlyMap<string, string>;
  /** Binary and tool cache root ($THREATMESH_CACHE). */
  readonly cacheDir: string;
}

/** Starts (or installs) the network on `target`; the caller stops it in `after`. */
export async function startJourneyNetwork(target: JourneyTarget, opts: JourneyOptions): Promise<JourneyNetwork> {
  if (target.name === 'local') return (await import('./local.ts')).startLocalNetwork(opts);
  return (await import('./kind.ts')).startKindNetwork(target, opts);
}
