/**
 * Runs Feed ingestion beside the operator, for the local sandbox where there is no kubelet to run
 * Jobs: one child process per run (`fork` of ingest-child.ts), which imports `module` and calls its
 * `exportName` (an IngestionFunction) with the Feed and run id.
 *
 * Parsing untrusted feeds is kept apart from the partner's signing key
 * (docs/adr/2026-11-25-feed-runs-and-indicator-admission.md, addendum): the key is read and held
 * by this process only; the child gets neither the key nor its path, runs under the Node
 * permission model with read access to the program's code, its own temporary directory and
 * nothing else (so not the key file), and asks this process over IPC to sign each proposal,
 * or, with `proposalBatchSize` > 0 (protocol v2), each batch of up to that many proposals.
 * This process signs only ADD proposals of normalized indicators with valid metadata
 * (feeds/signer.ts `signProposalRequest`, `signProposalBatchRequest`, which builds every batch
 * leaf from the checked items itself), never votes, revocations or tree heads.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Feed } from '../api/types.ts';
import type { Indicator } from '../domain/indicator.ts';
import { SigningKey } from '../domain/signature.ts';
import type { IndicatorMeta } from '../domain/entry.ts';
import type { ProposalItem, ProposalProof } from '../domain/proposalbatch.ts';
import { signProposalBatchRequest, signProposalRequest } from '../feeds/signer.ts';
import { inClusterConfig, loadKubeconfig, resolvedClusterConfig, type ClusterConfig } from '../runtime/kubeconfig.ts';
import type { FeedRunExecutor, IngestionContext, IngestionReport, RunHandle, RunState } from './executor.ts';
import { INGEST_NODE_OPTIONS } from './jobexecutor.ts';
import type { Writable } from 'node:stream';

/** Where the child finds the ingestion function, and what it is given. */
export interface InProcessExecutorConfig {
  /** URL of a module exporting an IngestionFunction. */
  readonly module: URL;
  /** @default 'runIngestion' */
  readonly exportName?: string;
  /** Wall-clock limit of one run. @default 3600000 */
  readonly timeoutMs?: number;
  /** Finished runs remembered for status and history. @default 50 */
  readonly remember?: number;
  /**
   * Where the API server is and who this partner is. `signingKeyPath` is read here and never
   * passed on; `kubeconfig` (or the in-cluster settings) is resolved here and passed as `cluster`.
   * @default {}
   */
  readonly context?: IngestionContext;
  /** Runs at once across all Feeds; a start beyond it throws (the Feed is retried with backoff). @default 2 */
  readonly maxConcurrent?: number;
  /**
   * Proposals a run may have signed as one batch (protocol v2, `threatmesh operator
   * --proposal-batch-size`; only once the sequencer and every partner run it), 1..MAX_VOTE_BATCH;
   * 0 signs each proposal alone (protocol v1) and refuses batch requests. @default 0
   */
  readonly proposalBatchSize?: number;
  /**
   * Where a run's own output (the child's stdout and stderr: its JSON log lines) goes. A command
   * that draws on the terminal (`threatmesh up`) passes its log file, so a run's warnings never
   * land in the middle of its live view. @default the operator's own stdout and stderr (inherited)
   */
  readonly output?: Writable;
}

/** Thrown by start() when maxConcurrent runs are already going; transient. */
export class ExecutorBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExecutorBusyError';
  }
}

/** Parent → child: start the run. */
export interface RunMessage {
  readonly kind: 'run';
  readonly module: string;
  readonly exportName: string;
  readonly feed: Feed;
  readonly runId: string;
  readonly context: IngestionContext;
  /** Whether proposals are signed (the child then gets a signer that asks the parent). */
  readonly signing: boolean;
  /** With `signing`: proposals per batch request (protocol v2); 0 asks one signature per proposal. @default 0 */
  readonly batchSize?: number;
}

/** Messages the parent sends. */
export type ParentMessage = RunMessage
  | { readonly kind: 'signed'; readonly id: number; readonly signature: string }
  | { readonly kind: 'batch-signed'; readonly id: number; readonly proofs: ProposalProof[] }
  | { readonly kind: 'sign-refused'; readonly id: number; readonly message: string };

/** Messages the child sends: a signing request, or the end of the run. */
export type ChildMessage =
  | { readonly kind: 'sign'; readonly id: number; readonly indicator: Indicator; readonly meta?: IndicatorMeta }
  | { readonly kind: 'sign-batch'; readonly id: number; readonly items: readonly ProposalItem[] }
  | { readonly kind: 'done'; readonly ok: true; readonly report: IngestionReport }
  | { readonly kind: 'done'; readonly ok: false; readonly message: string };

/** What the executor reads once and keeps: the key stays here, the rest shapes the child. */
interface Material {
  readonly key: SigningKey | undefined;
  readonly keyFile: string | undefined;
  readonly cluster: ClusterConfig | undefined;
  readonly moduleFile: string | undefined;
}

interface Run {
  readonly feedKey: string;
  readonly runId: string;
  readonly child: ChildProcess;
  readonly tmp: string;
  state: RunState;
  readonly startedAt: number;
}

const CHILD = new URL('./ingest-child.ts', import.meta.url);
// The program's own files: operator/src and its dependencies (this file is operator/src/controllers/inprocess.ts).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CODE = [join(ROOT, 'operator', 'src'), join(ROOT, 'node_modules'), join(ROOT, 'package.json')];

function keyOf(feed: Feed): string {
  return `${feed.metadata.namespace ?? ''}/${feed.metadata.name}`;
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}

/** The in-process executor. Its run table is instance state: a restarted operator finds its runs Lost. */
export class InProcessExecutor implements FeedRunExecutor {
  private readonly config: InProcessExecutorConfig;
  private readonly runs = new Map<string, Run>();
  private readonly now: () => Date;
  private material: Promise<Material> | undefined;
  /** Once-per-process notices (feeds/notices.ts) the runs of this operator gave, handed to each new run. */
  private readonly notices = new Set<string>();

  constructor(config: InProcessExecutorConfig, now: () => Date) {
    this.config = config;
    this.now = now;
  }

  /** The key, the cluster settings and the module's file, read once, in this process. */
  private load(): Promise<Material> {
    const ctx = this.config.context ?? {};
    this.material ??= (async () => {
      const keyFile = ctx.signingKeyPath === undefined ? undefined : await realpath(ctx.signingKeyPath);
      const key = keyFile === undefined ? undefined : SigningKey.fromPem(await readFile(keyFile, 'utf8'));
      const loaded = ctx.kubeconfig ? await loadKubeconfig(ctx.kubeconfig, ctx.context)
        : ctx.kubernetesServiceHost ? await inClusterConfig(ctx.kubernetesServiceHost, ctx.kubernetesServicePort) : undefined;
      // The child gets plain data (a structured-clone message) and may not run programs: an exec
      // plugin runs here, once, and the child gets its token (a rotating token file stays a file).
      const cluster = loaded === undefined ? undefined : await resolvedClusterConfig(loaded);
      const moduleFile = this.config.module.protocol === 'file:' ? await realpath(fileURLToPath(this.config.module)) : undefined;
      return { key, keyFile, cluster, moduleFile };
    })();
    this.material.catch(() => { this.material = undefined; });
    return this.material;
  }

  /** Read access of the child: the code, the ingestion module, a rotating token file; write: its own temporary directory. */
  private permissions(tmp: string, m: Material): string[] {
    const reads = [...CODE, ...(m.moduleFile ? [m.moduleFile] : []), ...(m.cluster?.tokenFile ? [m.cluster.tokenFile] : []), tmp];
    // Refuse rather than run a parser that could read the key: it must live outside what the child may read.
    const exposed = m.keyFile === undefined ? undefined : reads.find((r) => inside(m.keyFile ?? '', r));
    if (exposed !== undefined) throw new Error(`the signing key ${m.keyFile ?? ''} lies under ${exposed}, which in-process ingestion may read; keep the key outside the program's directory`);
    return ['--permission', ...reads.map((r) => `--allow-fs-read=${r}`), `--allow-fs-write=${tmp}`, INGEST_NODE_OPTIONS];
  }

  async start(feed: Feed, runId: string): Promise<RunHandle> {
    const m = await this.load();
    // From here on nothing awaits, so checking the run table and adding to it cannot interleave with another start.
    const existing = this.runs.get(runId);
    if (existing) return { runId };
    const running = [...this.runs.values()].find((r) => r.feedKey === keyOf(feed) && r.state.phase === 'Running');
    if (running) return { runId: running.runId };
    const busy = [...this.runs.values()].filter((r) => r.state.phase === 'Running').length;
    const max = this.config.maxConcurrent ?? 2;
    if (busy >= max) throw new ExecutorBusyError(`${busy} in-process runs are already going (maxConcurrent ${max}); run ${runId} starts when one finishes`);
    const tmp = mkdtempSync(join(tmpdir(), 'threatmesh-ingest-'));
    let execArgv: string[];
    try {
      execArgv = this.permissions(tmp, m);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    const child = forkRun(execArgv, tmp, this.config.output);
    const run: Run = { feedKey: keyOf(feed), runId, child, tmp, state: { phase: 'Running' }, startedAt: this.now().getTime() };
    this.runs.set(runId, run);
    this.watch(run, m.key);
    const ctx = this.config.context ?? {};
    const context: IngestionContext = { partnerId: ctx.partnerId, allowInternalFeeds: ctx.allowInternalFeeds, cluster: m.cluster, noticesGiven: [...this.notices] };
    const signing = m.key !== undefined && ctx.partnerId !== undefined;
    const batchSize = signing ? this.config.proposalBatchSize ?? 0 : 0;
    const message: RunMessage = { kind: 'run', module: this.config.module.href, exportName: this.config.exportName ?? 'runIngestion', feed, runId, context, signing, ...(batchSize > 0 ? { batchSize } : {}) };
    child.send(message);
    return { runId };
  }

  /** Answers signing requests and records how the run ends. */
  private watch(run: Run, key: SigningKey | undefined): void {
    const limit = this.config.timeoutMs ?? 3_600_000;
    const timer = setTimeout(() => this.finish(run, { phase: 'Failed', message: `run exceeded ${limit} ms and was stopped`, completedAt: this.now() }), limit);
    timer.unref();
    run.child.on('message', (m: ChildMessage) => {
      if (m.kind === 'sign' || m.kind === 'sign-batch') {
        if (run.state.phase === 'Running') run.child.send(this.answer(m, key));
        return;
      }
      clearTimeout(timer);
      if (!m.ok) {
        this.finish(run, { phase: 'Failed', message: m.message, completedAt: this.now() });
        return;
      }
      const { notices, ...report } = m.report;
      for (const key of notices ?? []) this.notices.add(key);
      this.finish(run, report.outcome === 'failed' ? { phase: 'Failed', message: report.error?.message ?? 'ingestion failed', report, completedAt: this.now() } : { phase: 'Succeeded', report, completedAt: this.now() });
    });
    run.child.on('error', (err: Error) => {
      clearTimeout(timer);
      this.finish(run, { phase: 'Failed', message: `ingestion process failed: ${err.message}`, completedAt: this.now() });
    });
    run.child.on('exit', (code, signal) => {
      clearTimeout(timer);
      this.finish(run, { phase: 'Failed', message: `ingestion process exited (${signal ?? `code ${code ?? '?'}`}) before reporting`, completedAt: this.now() });
      void rm(run.tmp, { recursive: true, force: true });
    });
  }

  /** The answer to a signing request: the child's items are checked here, whatever it claims. */
  private answer(m: Extract<ChildMessage, { kind: 'sign' | 'sign-batch' }>, key: SigningKey | undefined): ParentMessage {
    if (key === undefined) return { kind: 'sign-refused', id: m.id, message: 'this operator has no signing key' };
    if (m.kind === 'sign') {
      const r = signProposalRequest(key, m);
      return r.ok ? { kind: 'signed', id: m.id, signature: r.signature } : { kind: 'sign-refused', id: m.id, message: r.message };
    }
    const r = signProposalBatchRequest(key, m, this.config.proposalBatchSize ?? 0);
    return r.ok ? { kind: 'batch-signed', id: m.id, proofs: r.proofs } : { kind: 'sign-refused', id: m.id, message: r.message };
  }

  private finish(run: Run, state: RunState): void {
    if (run.state.phase !== 'Running') return;
    run.state = state;
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    this.forgetOld();
  }

  private forgetOld(): void {
    const done = [...this.runs.values()].filter((r) => r.state.phase !== 'Running').sort((a, b) => b.startedAt - a.startedAt);
    for (const r of done.slice(this.config.remember ?? 50)) this.runs.delete(r.runId);
  }

  status(_feed: Feed, handle: RunHandle): Promise<RunState> {
    const run = this.runs.get(handle.runId);
    return Promise.resolve(run ? run.state : { phase: 'Lost', message: `run ${handle.runId} is unknown to this operator process (it restarted); the next scheduled run replaces it` });
  }

  active(feed: Feed): Promise<RunHandle | undefined> {
    const run = [...this.runs.values()].find((r) => r.feedKey === keyOf(feed) && r.state.phase === 'Running');
    return Promise.resolve(run ? { runId: run.runId } : undefined);
  }

  cancel(_feed: Feed, handle: RunHandle): Promise<void> {
    const run = this.runs.get(handle.runId);
    if (run) this.finish(run, { phase: 'Failed', message: 'run cancelled', completedAt: this.now() });
    return Promise.resolve();
  }

  prune(_feed: Feed, _keep: { readonly successful: number; readonly failed: number }): Promise<number> {
    return Promise.resolve(0);
  }

  /** Stops every running child (operator shutdown) and waits until each has exited. */
  async close(): Promise<void> {
    await Promise.all([...this.runs.values()].map(async (r) => {
      const exited = r.child.exitCode !== null || r.child.signalCode !== null ? Promise.resolve() : new Promise<void>((res) => r.child.once('exit', () => res()));
      this.finish(r, { phase: 'Failed', message: 'operator shut down during the run', completedAt: this.now() });
      await exited;
      await rm(r.tmp, { recursive: true, force: true });
    }));
  }
}

// The run's child process; its stdout and stderr go to `output` when one is given, else they are the operator's own.
function forkRun(execArgv: string[], tmp: string, output: Writable | undefined): ChildProcess {
  const io = output ? 'pipe' : 'inherit';
  const child = fork(fileURLToPath(CHILD), [], { execArgv, env: { TMPDIR: tmp }, serialization: 'advanced', stdio: ['ignore', io, io, 'ipc'] });
  if (output) for (const s of [child.stdout, child.stderr]) s?.pipe(output, { end: false });
  return child;
}
