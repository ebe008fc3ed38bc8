/**
 * LogScan reconciler: plans a scan's shards once (stored in the partner database under the
 * LogScan's uid), gives it its weighted fair share of the cluster's scan slots against every
 * other running LogScan, has the executor run its ready shards within that share, puts shards
 * whose worker died back to pending (they run again; their checkpoint makes that safe), rolls
 * finished shards up into the `sightings` collection (one shard at a time, one writer), and
 * reports shard counts, progress, throughput and ETA in status and metrics.
 */
import { Gauge, type Registry } from 'prom-client';
import type { LogScan, LogScanProgress, LogScanStatus } from '../api/types.ts';
import { LOG_SCANS } from '../api/schemas/index.ts';
import type { KindValidator } from '../api/validate.ts';
import { ScanError } from '../match/errors.ts';
import { fairShare, type Claim } from '../match/fairshare.ts';
import { accessOf, inputFacts, type SecretReader, type SourceAccess } from '../match/inputs.ts';
import { DEFAULT_SHARD_BYTES, planShards, type InputFacts } from '../match/plan.ts';
import type { KubeWriter, StatusWriter } from '../runtime/client.ts';
import { finalize } from '../runtime/finalizer.ts';
import { rfc3339, setCondition } from '../runtime/status.ts';
import { TerminalError, type Context, type ObjectKey, type Reconciler, type Result } from '../runtime/types.ts';
import type { MongoScanStore, ShardDoc } from '../store/sightings.ts';
import { SHARD_ATTEMPTS, type ScanShardExecutor } from './logscanexec.ts';
import { progressOf, rejectedOf, shardView } from './logscanstatus.ts';
import { CONDITION, REASON } from '../api/reasons.ts';
import { writeStatus } from './status.ts';

/** Finalizer that stops a LogScan's shards before it goes away. */
export const LOGSCAN_FINALIZER = 'threatmesh.io/logscan-shards';
/** Default fair-share weight. */
export const DEFAULT_PRIORITY = 10;

/** Tuning of the LogScan controller. */
export interface LogScanControllerConfig {
  /** Shards running at once across every LogScan of this operator. @default 2 */
  readonly capacity?: number;
  /** How often a running scan is looked at. @default 5000 */
  readonly pollMs?: number;
}

/** Prometheus gauges of LogScans, labelled namespace and name. */
export class LogScanMetrics {
  readonly progress: Gauge<'namespace' | 'name'>;
  readonly bytesPerSecond: Gauge<'namespace' | 'name'>;
  readonly etaSeconds: Gauge<'namespace' | 'name'>;
  readonly shards: Gauge<'namespace' | 'name' | 'state'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['namespace', 'name'] as const;
    this.progress = new Gauge({ name: 'threatmesh_logscan_progress_ratio', help: 'Input bytes read / total, per LogScan', labelNames, registers });
    this.bytesPerSecond = new Gauge({ name: 'threatmesh_logscan_throughput_bytes_per_second', help: 'Average input throughput of a LogScan', labelNames, registers });
    this.etaSeconds = new Gauge({ name: 'threatmesh_logscan_eta_seconds', help: 'Seconds until a LogScan should finish', labelNames, registers });
    this.shards = new Gauge({ name: 'threatmesh_logscan_shards', help: 'Shards of a LogScan by state', labelNames: ['namespace', 'name', 'state'], registers });
  }
}

/** What the LogScan reconciler needs. */
export interface LogScanDeps {
  readonly writer: KubeWriter;
  readonly status: StatusWriter;
  readonly validator: KindValidator;
  readonly store: Pick<MongoScanStore, 'shards' | 'savePlan' | 'releaseShard' | 'rollupShard' | 'deletePlan'>;
  readonly executor: ScanShardExecutor;
  /** Every LogScan the operator knows (the informer cache), for the fair share. */
  readonly scans: () => readonly LogScan[];
  /** Reads Secrets of a namespace. */
  readonly secrets: (namespace: string) => SecretReader;
  /** This partner's id, recorded in sightings. */
  readonly partnerId: string;
  /** Lists and sniffs the inputs. @default match/inputs.ts inputFacts */
  readonly planner?: (scan: LogScan, access: SourceAccess) => Promise<InputFacts[]>;
  readonly metrics?: LogScanMetrics;
  readonly config?: LogScanControllerConfig;
}

function keyOf(scan: LogScan): string {
  return `${scan.metadata.namespace ?? ''}/${scan.metadata.name}`;
}

/** A scan's fair-share claim for `demand` shards (capped by its own parallelism limit). */
function claimOf(s: LogScan, demand: number): Claim {
  return { key: keyOf(s), weight: s.spec.priority ?? DEFAULT_PRIORITY, demand: Math.min(demand, s.spec.maxParallelism ?? demand), since: Date.parse(s.metadata.creationTimestamp ?? '') || 0 };
}

/** The phase shard counts give. */
function phaseOf(scan: LogScan, c: ReturnType<typeof shardView>['counts']): NonNullable<LogScanStatus['phase']> {
  if (c.total === 0 || c.succeeded === c.total) return 'Succeeded';
  if (c.failed > 0 && c.pending + c.running === 0) return 'Failed';
  if (scan.spec.suspend === true) return 'Suspended';
  return c.running + c.succeeded > 0 ? 'Running' : 'Pending';
}

/** The status message of a phase. */
function messageOf(phase: string, c: ReturnType<typeof shardView>['counts'], p: LogScanProgress, shards: readonly ShardDoc[], slots: number): string {
  if (phase === 'Succeeded') return `${c.total} shard(s) done: ${p.lines ?? 0} lines, ${p.matchedRecords ?? 0} matching records, ${p.indicatorsSeen ?? 0} indicator sightings`;
  if (phase === 'Failed') return `${c.failed} shard(s) failed ${SHARD_ATTEMPTS} times: ${shards.find((s) => s.state === 'failed')?.error ?? ''}`;
  return `${c.succeeded}/${c.total} shards done, ${c.running} running, ${c.pending} waiting (fair share: ${slots} at once)`;
}

function settled(scan: LogScan): boolean {
  return scan.status?.phase === 'Succeeded' || scan.status?.phase === 'Failed';
}

/** Reconciles LogScans; see the module doc. */
export class LogScanReconciler implements Reconciler<LogScan> {
  readonly #deps: LogScanDeps;
  /** One rollup at a time across every scan (sightings are recomputed, not incremented). */
  #rollups: Promise<unknown> = Promise.resolve();

  constructor(deps: LogScanDeps) {
    this.#deps = deps;
  }

  async reconcile(ctx: Context, _key: ObjectKey, obj: LogScan | undefined): Promise<Result> {
    if (!obj) return {};
    return finalize(this.#deps.writer, LOG_SCANS, obj, LOGSCAN_FINALIZER, {
      apply: (scan) => this.#apply(ctx, scan),
      cleanup: async (scan) => {
        await this.#deps.executor.cancel(scan);
        await this.#deps.store.deletePlan(scan.metadata.uid ?? '');
      },
    });
  }

  async #apply(ctx: Context, scan: LogScan): Promise<Result> {
    const checked = this.#deps.validator.validate(scan);
    if (!checked.ok) throw new TerminalError(REASON.InvalidSpec, `invalid LogScan: ${checked.errors.join('; ')}`);
    const planId = scan.metadata.uid ?? '';
    let shards = await this.#deps.store.shards(planId);
    if (shards.length === 0 && !settled(scan)) {
      const planned = await this.#plan(ctx, scan, planId);
      if (typeof planned === 'string') return this.#unreadable(ctx, scan, planned);
      shards = planned;
    }
    const view = shardView(shards, await this.#deps.executor.running(scan));
    for (const index of view.orphaned) await this.#deps.store.releaseShard(planId, index);
    for (const index of view.toRollUp) await this.#rollup(planId, index);
    const now = ctx.now();
    const slots = await this.#run(scan, view, shards.length);
    const st = this.#status(scan, shards, view, slots, now);
    await writeStatus(this.#deps.status, LOG_SCANS, scan, st as Record<string, unknown>);
    this.#metrics(scan, st, now);
    if (st.phase === 'Succeeded' && scan.status?.phase !== 'Succeeded') await ctx.recorder.event(scan, 'Normal', REASON.ScanSucceeded, st.message ?? '');
    return st.phase === 'Running' || st.phase === 'Pending' ? { requeueAfterMs: this.#deps.config?.pollMs ?? 5000 } : {};
  }

  /** Hands the ready shards to the executor within the scan's fair share; returns the share. */
  async #run(scan: LogScan, view: ReturnType<typeof shardView>, total: number): Promise<number> {
    const suspended = scan.spec.suspend === true;
    const demand = view.counts.pending + view.counts.running;
    const slots = demand > 0 && !suspended ? this.#allotment(scan, demand) : 0;
    if (view.ready.length > 0 || slots > 0) await this.#deps.executor.ensure(scan, suspended ? [] : view.ready, slots, total);
    return slots;
  }

  /** The stored plan, made now; or why the source cannot be listed (a message). */
  async #plan(ctx: Context, scan: LogScan, planId: string): Promise<ShardDoc[] | string> {
    let facts: InputFacts[];
    try {
      const access = await accessOf(scan.spec.source, this.#deps.secrets(scan.metadata.namespace ?? 'default'));
      facts = await (this.#deps.planner ?? ((s, a) => inputFacts(s.spec.source, a)))(scan, access);
    } catch (err) {
      if (err instanceof ScanError) return err.message;
      throw err;
    }
    const plan = planShards(facts, scan.spec.shardBytes ?? DEFAULT_SHARD_BYTES);
    await this.#deps.store.savePlan(planId, plan.map((s) => ({ index: s.index, input: { ...s.input }, range: s.range, bytes: s.bytes })));
    ctx.log.info('planned a log scan', { logscan: keyOf(scan), inputs: facts.length, shards: plan.length });
    await ctx.recorder.event(scan, 'Normal', REASON.ScanPlanned, `${plan.length} shard(s) over ${facts.length} input(s)`);
    return this.#deps.store.shards(planId);
  }

  /** Ready=False while the source cannot be listed (credentials, endpoint, path); tried again later. */
  async #unreadable(ctx: Context, scan: LogScan, message: string): Promise<Result> {
    const prev = scan.status ?? {};
    const conditions = setCondition(prev.conditions, { type: CONDITION.Ready, status: 'False', reason: REASON.SourceUnreadable, message, observedGeneration: scan.metadata.generation }, ctx.now());
    await writeStatus(this.#deps.status, LOG_SCANS, scan, { ...prev, phase: 'Pending', message, conditions, observedGeneration: scan.metadata.generation });
    if (prev.message !== message) await ctx.recorder.event(scan, 'Warning', REASON.SourceUnreadable, message);
    return { requeueAfterMs: 30_000 };
  }

  #rollup(planId: string, index: number): Promise<unknown> {
    const next = this.#rollups.then(() => this.#deps.store.rollupShard(planId, index, this.#deps.partnerId));
    this.#rollups = next.catch(() => undefined);
    return next;
  }

  /** This scan's slots under the weighted fair share of every active scan. */
  #allotment(scan: LogScan, demand: number): number {
    const claims: Claim[] = [];
    for (const s of this.#deps.scans()) {
      if (keyOf(s) === keyOf(scan) || settled(s) || s.spec.suspend === true) continue;
      // A scan not planned yet claims one slot, so it gets started.
      claims.push(claimOf(s, s.status?.shards === undefined ? 1 : (s.status.shards.pending ?? 0) + (s.status.shards.running ?? 0)));
    }
    claims.push(claimOf(scan, demand));
    return fairShare(claims, this.#deps.config?.capacity ?? 2).get(keyOf(scan)) ?? 0;
  }

  #status(scan: LogScan, shards: readonly ShardDoc[], view: ReturnType<typeof shardView>, slots: number, now: Date): LogScanStatus {
    const prev = scan.status ?? {};
    const c = view.counts;
    const startTime = prev.startTime ?? (c.running + c.succeeded > 0 ? rfc3339(now) : undefined);
    const phase = phaseOf(scan, c);
    const progress = progressOf(shards, startTime === undefined ? undefined : new Date(startTime), now);
    const message = messageOf(phase, c, progress, shards, slots);
    const st: LogScanStatus = {
      phase, planId: scan.metadata.uid, startTime, shards: { ...c, allotted: slots }, progress, rejected: rejectedOf(shards), message,
      observedGeneration: scan.metadata.generation,
    };
    if (phase === 'Succeeded' || phase === 'Failed') st.completionTime = prev.completionTime ?? rfc3339(now);
    const ready = phase === 'Failed'
      ? { status: 'False' as const, reason: REASON.ScanFailed, message }
      : { status: 'True' as const, reason: phase === 'Succeeded' ? REASON.ScanSucceeded : REASON.ScanRunning, message };
    st.conditions = setCondition(prev.conditions, { type: CONDITION.Ready, ...ready, observedGeneration: scan.metadata.generation }, now);
    return st;
  }

  #metrics(scan: LogScan, st: LogScanStatus, now: Date): void {
    const m = this.#deps.metrics;
    if (m === undefined) return;
    const labels = { namespace: scan.metadata.namespace ?? '', name: scan.metadata.name };
    const p = st.progress ?? {};
    m.progress.set(labels, p.bytesTotal ? (p.bytesDone ?? 0) / p.bytesTotal : st.phase === 'Succeeded' ? 1 : 0);
    m.bytesPerSecond.set(labels, p.bytesPerSecond ?? 0);
    m.etaSeconds.set(labels, p.eta === undefined ? 0 : Math.max(0, (Date.parse(p.eta) - now.getTime()) / 1000));
    for (const state of ['succeeded', 'running', 'pending', 'failed'] as const) m.shards.set({ ...labels, state }, st.shards?.[state] ?? 0);
  }
}
