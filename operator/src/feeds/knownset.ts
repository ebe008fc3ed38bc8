/**
 * Which indicators of a Feed run already exist, so the run proposes only new ones
 * (docs/adr/2026-12-07-feed-known-set.md). The partner's full replicated set lives in its
 * database and is served by the aggregated API `replica.threatmesh.io` (ADR million-indicators);
 * only a bounded working set is ThreatIndicator objects. So a run:
 * - lists the working set once (objects of the namespace: local proposals, open rounds, the
 *   materializer's budget of recent indicators), as before, in the pipeline's `known`;
 * - checks the candidates that are not in it against the full set after the download, through
 *   the replica API (the Job needs no database credentials), in {@link KnownFilterSink}: by one
 *   list per batch of up to `selectSize` names, selected with
 *   `labelSelector=threatmesh.io/name in (…)` (one database query each on the server);
 * - against an older replica API without that selector (it answers 400): by a `get` per name
 *   when they are few (at most `listThreshold`), else by paging through the replica API's list
 *   once into a compact set of the names and checking locally;
 * - without a usable replica API (not installed, not permitted, unavailable) falls back to the
 *   working set alone and logs why, with the fix.
 */
import type { ThreatIndicator } from '../api/types.ts';
import { indicatorObjectName } from '../domain/canonical.ts';
import type { Logger } from '../log.ts';
import { DigestSet } from '../domain/digestset.ts';
import { ApiError, type KubeReader } from '../runtime/client.ts';
import type { ResourceRef } from '../runtime/types.ts';
import type { IngestSink } from './ingest.ts';
import type { IngestedIndicator, RunReport } from './pipeline.ts';
import { knownDigests } from './propose.ts';
import { NdjsonSpool } from './spool.ts';
import type { Notices } from './notices.ts';

/** The full replicated set as served by the aggregated API (serve/replicaapi.ts): read-only, `get` and `list`. */
export const REPLICA_INDICATORS: ResourceRef = { group: 'replica.threatmesh.io', version: 'v1alpha1', plural: 'threatindicators', kind: 'ThreatIndicator', namespaced: true };

/** Options of {@link knownSet}. */
export interface KnownSetOptions {
  /** Candidates checked together against the replica API. @default 256 */
  readonly batchSize?: number;
  /** `get`s in flight at once within a batch (more stalled the local API server: every named get makes the replica API post a SubjectAccessReview back to it). @default 8 */
  readonly concurrency?: number;
  /** Most candidates checked by a `get` each; more are checked against the listed full set. @default {@link DEFAULT_LIST_THRESHOLD} */
  readonly listThreshold?: number;
  /** Objects per page when listing the full set (`limit`, then `continue` tokens). @default 500 */
  readonly pageSize?: number;
  /** Names per name-selected list (the replica API accepts at most 1,000). @default {@link DEFAULT_SELECT_SIZE} */
  readonly selectSize?: number;
  /** Name-selected requests in flight at once (their answers are applied in order). @default 2 */
  readonly selectInFlight?: number;
  /** Whether to ask the replica API by name selector; false checks by get or list, as against an older replica API. @default true */
  readonly nameSelector?: boolean;
  /** Where the candidates' spool directory is made. @default os.tmpdir() (TMPDIR) */
  readonly spoolDir?: string;
  /** Which notices this process gave already: an unusable replica API warns once per process and status, then logs at debug. @default every run warns */
  readonly notices?: Notices;
}

/** Names asked per request on the name-selector path: about 27 KB of URL, half the server's bound of 1,000. */
export const DEFAULT_SELECT_SIZE = 500;

/** The label every replica object carries with its own name (serve/replicaselector.ts NAME_LABEL). */
export const REPLICA_NAME_LABEL = 'threatmesh.io/name';

// A well-formed name no indicator has: the probe asks for it to learn whether the name selector is served.
const PROBE_NAME = `domain-${'0'.repeat(40)}`;

/**
 * Against a replica API without the name selector (older than issue 14's set query), candidates
 * up to which a `get` each is cheaper than listing the full set: at the measured
 * ~150-226 gets/s on a local control plane, 4,096 gets take about 20-30 s, about what listing a
 * full set of a few hundred thousand takes (docs/adr/2026-12-07-feed-known-set.md).
 */
export const DEFAULT_LIST_THRESHOLD = 4096;

/** Read access to the full replicated set, as {@link KnownFilterSink} uses it. */
export interface FullSetReader {
  /** Whether the full set holds the object named `name`. */
  readonly exists: (name: string) => Promise<boolean>;
  /** The object names of the full set, one page (of at most `pageSize`) at a time. */
  readonly pages: (pageSize: number) => AsyncIterable<readonly string[]>;
  /** Which of `names` the full set holds, in one request; absent when the replica API has no name selector. */
  readonly existing?: (names: readonly string[]) => Promise<ReadonlySet<string>>;
}

/** The name selector of a set of names: `threatmesh.io/name in (a,b,…)`. */
export function nameSelector(names: readonly string[]): string {
  return `${REPLICA_NAME_LABEL} in (${names.join(',')})`;
}

/** The replica API in `namespace` as a {@link FullSetReader}; with `select`, it answers sets of names by the name selector. */
export function replicaReader(kube: KubeReader, namespace: string, select = true): FullSetReader {
  const existing = async (names: readonly string[]): Promise<ReadonlySet<string>> => {
    const held = new Set<string>();
    let cont: string | undefined;
    do {
      const page = await kube.list<ThreatIndicator>(REPLICA_INDICATORS, { namespace, labelSelector: nameSelector(names), ...(cont ? { continue: cont } : {}) });
      for (const o of page.items) held.add(o.metadata.name);
      cont = page.metadata.continue;
    } while (cont);
    return held;
  };
  return {
    ...(select ? { existing } : {}),
    exists: (name) => kube.get(REPLICA_INDICATORS, name, namespace).then((o) => o !== undefined),
    pages: async function* (pageSize) {
      let cont: string | undefined;
      do {
        const page = await kube.list<ThreatIndicator>(REPLICA_INDICATORS, { namespace, limit: pageSize, ...(cont ? { continue: cont } : {}) });
        yield page.items.map((o) => o.metadata.name);
        cont = page.metadata.continue;
      } while (cont);
    },
  };
}

/** The digest part of an indicator object name (`<type>-<40 hex>`, domain/canonical.ts), or undefined for other names. */
function nameDigest(name: string): string | undefined {
  const m = /-([0-9a-f]{40})$/.exec(name);
  return m?.[1];
}

/** What a Feed run knows of the existing set. */
export interface KnownSet {
  /** In-memory check against the working set (ThreatIndicator objects), for the pipeline. */
  readonly known: (digest: string) => boolean;
  /** Wraps the proposal sink so candidates are also checked against the full set; the identity when the replica API is not usable. */
  readonly wrap: (sink: IngestSink) => IngestSink;
  /** True when candidates are checked against the full set through the replica API. */
  readonly fullSet: boolean;
}

/**
 * Probes the replica API in `namespace` (a `list` of one item: a 404 there means the group is
 * not served, unlike a 404 of a `get`) and lists the working set. Falls back to the working set
 * alone on any API error of the probe, with a warning saying what to fix.
 */
export async function knownSet(kube: KubeReader, namespace: string, log: Logger, opts: KnownSetOptions = {}): Promise<KnownSet> {
  const known = await knownDigests(kube, namespace);
  if (opts.nameSelector === false) return { known, wrap: (sink) => new KnownFilterSink(sink, replicaReader(kube, namespace, false), opts, log), fullSet: true };
  try {
    await kube.list<ThreatIndicator>(REPLICA_INDICATORS, { namespace, limit: 1, labelSelector: nameSelector([PROBE_NAME]) });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 400) {
      log.info('the replica API has no name selector (an older version); checking candidates by get or by listing the full set', { detail: err.message.slice(0, 300), fix: 'upgrade the replica API (threatmesh replica-api) to the operator\'s version' });
      return { known, wrap: (sink) => new KnownFilterSink(sink, replicaReader(kube, namespace, false), opts, log), fullSet: true };
    }
    // A steady state (not installed, not permitted): warned once per process, then at debug.
    const first = opts.notices?.first(`replica-api-unreadable:${err.status}`) ?? true;
    log[first ? 'warn' : 'debug']('the replica API cannot be read, so indicators stored only in the partner database may be proposed again (the sequencer answers already-admitted); checking against ThreatIndicator objects only', {
      status: err.status, reason: err.reason, detail: err.message.slice(0, 300), fix: fixFor(err.status, namespace), ...(first && opts.notices ? { once: 'logged once per process; later runs log it at debug' } : {}),
    });
    return { known, wrap: (sink) => sink, fullSet: false };
  }
  return { known, wrap: (sink) => new KnownFilterSink(sink, replicaReader(kube, namespace), opts, log), fullSet: true };
}

function fixFor(status: number, namespace: string): string {
  if (status === 404) return 'install the replica API (threatmesh replica-api; the chart\'s replicaApi values) so Feed runs check the full set';
  if (status === 403) return `grant get and list on threatindicators.replica.threatmesh.io in ${namespace} to the identity running ingestion (config/rbac/ingest.yaml)`;
  return 'check the replica API Deployment and its APIService (kubectl get apiservice v1alpha1.replica.threatmesh.io)';
}

/**
 * An {@link IngestSink} in front of another that drops the candidates the full set already holds.
 * Candidates are spooled to a temporary NDJSON file while the feed is read, so the download
 * never waits for the checks (a stalled download trips servers' idle timeouts); on commit they
 * are read back in batches (bounded memory) and checked, and the rest go on to the inner sink in
 * order before its commit. When the reader has `existing` (the name selector), each batch of
 * `selectSize` is one request, whatever the size of the full set, `selectInFlight` at once. Otherwise (an older replica
 * API), up to `listThreshold` candidates, each is checked
 * with `exists` (`concurrency` at a time); above it, the full set's names are listed once into
 * a {@link DigestSet} (12 bytes a slot, about 24 MiB a million) and the candidates checked
 * against it. The dropped ones move from the report's `new` to `duplicate`, as the working-set
 * check counts them. An error of the replica API propagates from commit: the run fails and
 * proposes nothing.
 */
export class KnownFilterSink implements IngestSink {
  /** Candidates the full set already held. */
  known = 0;
  /** How the candidates were checked: a name-`select`ed list per batch, a `get` each, or against the `list`ed full set; undefined before commit or with no candidates. */
  mode: 'select' | 'get' | 'list' | undefined;
  private readonly inner: IngestSink;
  private readonly full: FullSetReader;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly listThreshold: number;
  private readonly pageSize: number;
  private readonly selectSize: number;
  private readonly selectInFlight: number;
  private readonly log: Logger | undefined;
  private readonly spoolDir: string | undefined;
  private candidates = 0;
  private spool: Promise<NdjsonSpool> | undefined;
  private opened: NdjsonSpool | undefined;
  private closed = false;

  /** @param log where the chosen path and its counts are logged (info), when given. */
  constructor(inner: IngestSink, full: FullSetReader, opts: KnownSetOptions = {}, log?: Logger) {
    this.inner = inner;
    this.log = log;
    this.full = full;
    this.batchSize = Math.max(1, opts.batchSize ?? 256);
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.listThreshold = Math.max(0, opts.listThreshold ?? DEFAULT_LIST_THRESHOLD);
    this.pageSize = Math.max(1, opts.pageSize ?? 500);
    this.selectSize = Math.max(1, opts.selectSize ?? DEFAULT_SELECT_SIZE);
    this.selectInFlight = Math.max(1, opts.selectInFlight ?? 2);
    this.spoolDir = opts.spoolDir;
  }

  // The candidates wait in the same spool as the proposals (feeds/spool.ts): a full disk fails
  // the run with an error that names the file and the fix, never an unhandled stream error.
  readonly add = (ind: IngestedIndicator): Promise<void> | undefined => {
    if (this.closed) return Promise.reject(new Error('the known-set filter was aborted or committed: a run adds nothing after that'));
    this.candidates++;
    if (this.opened !== undefined) return this.opened.append(ind);
    this.spool ??= NdjsonSpool.create('threatmesh-candidates-', this.spoolDir);
    return this.spool.then((s) => {
      this.opened = s;
      return s.append(ind);
    });
  };

  async commit(report: RunReport): Promise<void> {
    this.closed = true;
    try {
      if (this.spool !== undefined) {
        const spool = await this.spool;
        await spool.finish();
        const check = await this.checker();
        const size = this.mode === 'select' ? this.selectSize : this.batchSize;
        // Name-selected batches overlap (a request each); the other paths already parallelize inside a batch.
        const depth = this.mode === 'select' ? this.selectInFlight : 1;
        const pending: Array<{ batch: IngestedIndicator[]; held: Promise<boolean[]> }> = [];
        let batch: IngestedIndicator[] = [];
        for await (const line of spool.lines()) {
          if (batch.push(JSON.parse(line) as IngestedIndicator) < size) continue;
          pending.push(this.start(batch, check));
          batch = [];
          await this.deliver(pending, depth - 1);
        }
        pending.push(this.start(batch, check));
        await this.deliver(pending, 0);
      }
    } finally {
      await this.cleanup();
    }
    this.log?.info('checked candidates against the full set', { mode: this.mode, candidates: this.candidates, known: this.known });
    report.new -= this.known;
    report.duplicate += this.known;
    await this.inner.commit(report);
  }

  /** Chooses the check: the name selector when served, else by the number of candidates; for the list path, reads the full set's names first. */
  private async checker(): Promise<(names: readonly string[]) => Promise<boolean[]>> {
    const existing = this.full.existing;
    if (existing !== undefined) {
      this.mode = 'select';
      return async (names) => {
        const held = names.length === 0 ? new Set<string>() : await existing(names);
        return names.map((n) => held.has(n));
      };
    }
    if (this.candidates <= this.listThreshold) {
      this.mode = 'get';
      return (names) => this.eachExists(names);
    }
    this.mode = 'list';
    const set = new DigestSet();
    let listed = 0;
    for await (const page of this.full.pages(this.pageSize)) {
      // A long listing shows progress (every 200 pages, 100,000 names at the default page size).
      if (++listed % 200 === 0) this.log?.info('listing the full set', { names: set.size, candidates: this.candidates });
      for (const name of page) {
        // Other names cannot match a candidate's name, which always has this form.
        const d = nameDigest(name);
        if (d !== undefined) set.add(d);
      }
    }
    return (names) => Promise.resolve(names.map((name) => {
      const d = nameDigest(name);
      return d !== undefined && set.has(d);
    }));
  }

  /** `exists` of each name, `concurrency` at a time. */
  private async eachExists(names: readonly string[]): Promise<boolean[]> {
    const held = new Array<boolean>(names.length).fill(false);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < names.length; i = next++) held[i] = await this.full.exists(names[i]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, names.length) }, worker));
    return held;
  }

  /** Starts checking `batch`; its answer is awaited later, in order, by {@link deliver}. */
  private start(batch: IngestedIndicator[], check: (names: readonly string[]) => Promise<boolean[]>): { batch: IngestedIndicator[]; held: Promise<boolean[]> } {
    const held = check(batch.map((ind) => indicatorObjectName(ind)));
    // Handled when delivered; until then a failure must not count as an unhandled rejection.
    held.catch(() => undefined);
    return { batch, held };
  }

  /** Hands the oldest checked batches to the inner sink, in order, until at most `keep` are pending; the held candidates are counted, not passed on. */
  private async deliver(pending: Array<{ batch: IngestedIndicator[]; held: Promise<boolean[]> }>, keep: number): Promise<void> {
    while (pending.length > keep) {
      const { batch, held } = pending.shift()!;
      const answer = await held;
      for (const [i, ind] of batch.entries()) {
        if (answer[i] === true) this.known++;
        else await this.inner.add(ind);
      }
    }
  }

  async abort(report: RunReport): Promise<void> {
    this.closed = true;
    await this.cleanup();
    await this.inner.abort(report);
  }

  /** Discards the spool (waiting for a write in flight); a spool that could not be made left nothing behind. */
  private async cleanup(): Promise<void> {
    const spool = await this.spool?.catch(() => undefined);
    this.spool = undefined;
    this.opened = undefined;
    await spool?.discard();
  }
}
