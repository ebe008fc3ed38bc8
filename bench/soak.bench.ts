/**
 * Load and soak (issue 18): a real `threatmesh sequencer` process (gRPC with mutual TLS, its log
 * in the harness's FerretDB, its PartnerNodes in the harness's kube-apiserver) serves
 * `--partners` identities (default 100), each following the log on its own stream from
 * `--stream-procs` partner processes, while a proposer process offers `--rate` proposals per
 * second (default 1,000, the issue's figure) with two approvals each, for `--minutes`.
 * Every `--sample-seconds` it reads VmRSS and open fds of every process (its own children and
 * the harness's apiserver, etcd and FerretDB) from /proc, and, of its own Node children (the
 * sequencer, the partner stream processes, the proposer), what each says of its memory through
 * the probe it loads (bench/soak/memprobe.ts): V8 heap used and reserved, memory outside the
 * heap, and the live data after major collections. Reports, per process, the series over time,
 * growth per minute over the second half of the run and a leak verdict (bench/soak/growth.ts,
 * which says why the first half is a warm-up) on anonymous resident memory (RssAnon: heaps and
 * malloc; VmRSS also counts file pages such as code, which the kernel maps in and drops as it
 * likes, so VmRSS is reported but not judged), open fds, and for probed processes the live data
 * and the memory outside the heap; and the rate actually sustained (admitted into the log),
 * refused and failed calls, stream errors. Exit code 3 when any process leaks (`leak: true` in
 * the summary).
 *
 * `npm run bench -- soak [--minutes 2] [--rate 1000] ...`; `--help` lists every flag.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { emit, emitSummary, progress, round, type BenchResult } from './lib.ts';
import { fitLine, growthOf, LEAK_DEFAULTS, type Growth, type LeakThresholds, type Sample } from './soak/growth.ts';
import { LOAD_PROCESS_MEMORY, probeFlags, spawnChild, startSoakNetwork, type Child, type SoakNetwork } from './soak/network.ts';
import { bytesPerEntry, processResults, seriesRows, SERIES_COLUMNS, withEntries } from './soak/report.ts';
import { descendants, sampleProcess, type Tracked } from './soak/procs.ts';
import type { ProposerConfig, ProposerStats } from './soak/proposer.ts';
import type { StreamsConfig, StreamStats } from './soak/streams.ts';
import { SEQUENCER_DEFAULTS } from '../operator/src/exchange/sequencer/defaults.ts';
import { DEFAULT_VALUES, memoryEnv } from '../cdk8s/values.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { controlPlaneOptionsFromEnv } from '../e2e/harness/env.ts';

const HELP = `usage: npm run bench -- soak [options]
Load and soak (issue 18): the sequencer under --partners partner streams and --rate proposals/s for --minutes,
with the memory (RSS, anonymous RSS) and file descriptors of every process sampled over time; a steady growth is a leak.

  --minutes M           how long the proposer runs (default 2; the issue's soak is 10)
  --rate R              proposals offered per second (default 1000)
  --partners N          partner identities, each with its own stream (default 100)
  --stream-procs P      partner processes the streams are spread over (default 4)
  --proposers K         identities the proposer rotates over (default 4; quorum 2)
  --batch B             proposals per ProposeBatch call (default 50)
  --concurrency C       batches in flight (default 8)
  --sample-seconds S    seconds between /proc samples (default 10)
  --rss-leak MIB        steady growth of anonymous RSS (RssAnon) over MIB per minute is a leak (default ${LEAK_DEFAULTS.rssMiBPerMin})
  --live-leak MIB       steady growth of a Node process's live data after major collections over MIB per minute is a leak (default ${LEAK_DEFAULTS.liveMiBPerMin})
  --live-entry-bytes B  the sequencer's live data is judged beyond B bytes per log entry, what it keeps per entry
                        by design (default ${LEAK_DEFAULTS.liveBytesPerEntry}; bench/soak/growth.ts)
  --external-leak MIB   steady growth of a Node process's memory outside the V8 heap over MIB per minute is a leak (default ${LEAK_DEFAULTS.externalMiBPerMin})
  --fd-leak N           steady fd growth over N per minute is a leak (default ${LEAK_DEFAULTS.fdsPerMin})
                        (growth counts after a warm-up: the first ${LEAK_DEFAULTS.warmupFraction * 100}% of the run, ${LEAK_DEFAULTS.warmupSeconds} s at least;
                        see bench/soak/growth.ts for why)
  --entry-cache N       the sequencer's --entry-cache (recent entries kept in memory; default the sequencer's, 50000)
  --sequencer-node-options="FLAGS"
                        Node flags for the sequencer process, space-separated, with "=", e.g.
                        --sequencer-node-options="--prof --no-logfile-per-isolate --logfile=/tmp/seq.v8.log"
                        then node --prof-process /tmp/seq.v8.log (--cpu-prof writes only if the sequencer exits cleanly)
  --sequencer-memory deployed|none
                        the sequencer's Node memory settings: those its Deployment sets by default
                        (values sequencer.memory: ${settingsText([], deployedMemory())}), or none
                        (V8's and glibc's own sizing); default deployed
  --sequencer-env="NAME=VALUE ..."
                        more environment variables of the sequencer process, space-separated, over
                        --sequencer-memory's, e.g. --sequencer-env="MALLOC_ARENA_MAX=2"
  --count-only          the partner stream processes count each batch's entries without decoding them
                        (the same calls on the wire; leaves this machine's cores to the sequencer); default: decode
  --calls               followers make the calls per tree head (GetTreeHead, StreamEntryBatches), as before protocol
                        revision 4; default: each follows the live tail (one FollowLog stream)
  --single-signatures   the proposer signs each proposal and vote alone (protocol v1); default: one
                        signature per ProposeBatch / VoteBatch call (protocol v2 Merkle batches, as partners do)
  --keep                keep the work directory (logs, certificates)
Exit code 3 when a process leaks; results in bench/results/soak.json.`;

/** Parsed flags. */
interface SoakFlags {
  readonly minutes: number;
  readonly rate: number;
  readonly partners: number;
  readonly streamProcs: number;
  readonly proposers: number;
  readonly batch: number;
  readonly concurrency: number;
  readonly sampleSeconds: number;
  readonly leak: LeakThresholds;
  readonly keep: boolean;
  readonly singleSignatures: boolean;
  readonly countOnly: boolean;
  /** Followers make the calls per tree head instead of following the live tail. */
  readonly calls: boolean;
  readonly entryCache: number | undefined;
  readonly nodeOptions: readonly string[];
  readonly sequencerEnv: Readonly<Record<string, string>>;
}

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

/** The sequencer's own default (SEQUENCER_DEFAULTS.entryCacheSize), for reports. */
const DEFAULT_ENTRY_CACHE = SEQUENCER_DEFAULTS.entryCacheSize;

function entryCacheOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--entry-cache must be a whole number of entries, got ${JSON.stringify(text)}`);
  return Number(text);
}

function envOf(text: string | undefined): Record<string, string> {
  const pairs = (text ?? '').split(/\s+/).filter((p) => p !== '');
  const bad = pairs.filter((p) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(p));
  if (bad.length > 0) throw new Error(`--sequencer-env holds NAME=VALUE pairs, space-separated; not ${JSON.stringify(bad.join(' '))}`);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

/** The environment the sequencer's Deployment gets by default (cdk8s/values.ts, the Helm chart's values.yaml). */
function deployedMemory(): Record<string, string> {
  return memoryEnv(DEFAULT_VALUES.sequencer.memory);
}

function sequencerMemoryOf(text: string | undefined): Record<string, string> {
  if (text === undefined || text === 'deployed') return deployedMemory();
  if (text === 'none') return {};
  throw new Error(`--sequencer-memory is deployed or none, got ${JSON.stringify(text)}`);
}

function parseFlags(argv: readonly string[]): SoakFlags | 'help' {
  const names = ['minutes', 'rate', 'partners', 'stream-procs', 'proposers', 'batch', 'concurrency', 'sample-seconds', 'rss-leak', 'live-leak', 'live-entry-bytes', 'external-leak', 'fd-leak'] as const;
  const { values: v } = parseArgs({ args: [...argv], options: { ...Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])), 'entry-cache': { type: 'string' }, 'sequencer-node-options': { type: 'string' }, 'sequencer-env': { type: 'string' }, 'sequencer-memory': { type: 'string' }, keep: { type: 'boolean' }, 'single-signatures': { type: 'boolean' }, 'count-only': { type: 'boolean' }, calls: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (v.help === true) return 'help';
  const text = v as Record<string, string | boolean | undefined>;
  const num = (n: typeof names[number], d: number): number => positive(n, text[n] as string | undefined, d);
  const flags: SoakFlags = {
    minutes: num('minutes', 2), rate: num('rate', 1000), partners: Math.floor(num('partners', 100)), streamProcs: Math.floor(num('stream-procs', 4)),
    proposers: Math.floor(num('proposers', 4)), batch: Math.floor(num('batch', 50)), concurrency: Math.floor(num('concurrency', 8)), sampleSeconds: num('sample-seconds', 10),
    leak: { rssMiBPerMin: num('rss-leak', LEAK_DEFAULTS.rssMiBPerMin), liveMiBPerMin: num('live-leak', LEAK_DEFAULTS.liveMiBPerMin), liveBytesPerEntry: num('live-entry-bytes', LEAK_DEFAULTS.liveBytesPerEntry), externalMiBPerMin: num('external-leak', LEAK_DEFAULTS.externalMiBPerMin), fdsPerMin: num('fd-leak', LEAK_DEFAULTS.fdsPerMin) }, keep: v.keep === true, singleSignatures: v['single-signatures'] === true, countOnly: v['count-only'] === true, calls: v.calls === true,
    entryCache: entryCacheOf(v['entry-cache']), nodeOptions: (v['sequencer-node-options'] ?? '').split(/\s+/).filter((o) => o !== ''),
    sequencerEnv: { ...sequencerMemoryOf(v['sequencer-memory']), ...envOf(v['sequencer-env']) },
  };
  if (flags.nodeOptions.some((o) => !o.startsWith('-'))) throw new Error(`--sequencer-node-options holds Node flags only (each starting with -), got ${JSON.stringify(flags.nodeOptions.join(' '))}`);
  if (flags.proposers < 2 || flags.proposers > flags.partners) throw new Error(`--proposers must be from 2 (quorum 2) to --partners (${flags.partners}), got ${flags.proposers}`);
  if (flags.batch > 1000) throw new Error(`--batch must be at most 1000 (the exchange's batch limit), got ${flags.batch}`);
  return flags;
}

/** Everything the run observed. */
interface Observed {
  readonly series: Map<string, Sample[]>;
  /** Tree size over time (from the fastest follower). */
  readonly tree: Array<[number, number]>;
  readonly seconds: number;
  readonly proposer: ProposerStats | undefined;
  readonly streams: Array<StreamStats | undefined>;
  /** Calls the sequencer served over the run (its /metrics: callers identified), when it answered. */
  readonly calls: number | undefined;
}

// Every call the sequencer authorizes identifies its caller once: the sum of that counter is its calls.
async function sequencerCalls(metricsPort: number): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return [...text.matchAll(/^threatmesh_sequencer_peer_identities_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  } catch {
    return undefined;
  }
}

async function startLoad(net: SoakNetwork, f: SoakFlags, dir: string, probeDir: string): Promise<{ streams: Child[]; proposer: () => Promise<Child> }> {
  const probe = probeFlags(probeDir);
  const args = [...LOAD_PROCESS_MEMORY.args, ...probe.args];
  const env = { ...LOAD_PROCESS_MEMORY.env, ...probe.env };
  const streams: Child[] = [];
  for (let k = 0; k < f.streamProcs; k++) {
    const mine = net.partners.filter((_, i) => i % f.streamProcs === k);
    const cfg: StreamsConfig = { address: net.address, caPem: net.caPem, identities: mine.map((p) => ({ id: p.id, certPem: p.certPem, keyPem: p.keyPem })), count: f.countOnly, calls: f.calls };
    const file = join(dir, `streams-${k}.json`);
    await writeFile(file, JSON.stringify(cfg), { mode: 0o600 });
    streams.push(await spawnChild(`partner streams ${k} (${mine.length} identities)`, [...args, new URL('./soak/streams.ts', import.meta.url).pathname, file], join(dir, `streams-${k}.log`), env));
  }
  const proposer = async (): Promise<Child> => {
    const cfg: ProposerConfig = {
      address: net.address, caPem: net.caPem, rate: f.rate, batch: f.batch, concurrency: f.concurrency, seconds: f.minutes * 60, singleSignatures: f.singleSignatures,
      identities: net.partners.slice(0, f.proposers).map((p) => ({ id: p.id, certPem: p.certPem, keyPem: p.keyPem, signingKey: p.key.toRawBase64() })),
    };
    const file = join(dir, 'proposer.json');
    await writeFile(file, JSON.stringify(cfg), { mode: 0o600 });
    return spawnChild(`proposer (${f.proposers} identities + votes)`, [...args, new URL('./soak/proposer.ts', import.meta.url).pathname, file], join(dir, 'proposer.log'), env);
  };
  return { streams, proposer };
}

function treeSize(streams: readonly Child[]): number {
  return Math.max(0, ...streams.map((s) => s.last<StreamStats>()?.size ?? 0));
}

async function sampleAll(tracked: readonly Tracked[], series: Map<string, Sample[]>, t: number, probeDir: string): Promise<void> {
  for (const p of tracked) {
    const s = await sampleProcess(p.pid, t, probeDir);
    if (s !== undefined) series.get(p.label)!.push(s);
  }
}

function memory(s: Sample | undefined): string {
  if (s === undefined) return '? MiB';
  const live = s.heap?.liveAfterGc;
  const heap = s.heap === undefined ? '' : `; V8 heap ${(s.heap.heapUsed / 2 ** 20).toFixed(0)}/${(s.heap.heapTotal / 2 ** 20).toFixed(0)}${live !== undefined ? ` (live ${(live / 2 ** 20).toFixed(0)})` : ''}, external ${(s.heap.external / 2 ** 20).toFixed(0)} MiB`;
  return `${(s.rssBytes / 2 ** 20).toFixed(0)}${s.anonBytes !== undefined ? ` (anon ${(s.anonBytes / 2 ** 20).toFixed(0)})` : ''} MiB${heap}`;
}

function line(t: number, tree: Array<[number, number]>, series: Map<string, Sample[]>, seqLabel: string, prop: ProposerStats | undefined): string {
  const [prevT, prevSize] = tree.length > 1 ? tree[tree.length - 2]! : [0, 0];
  const [, size] = tree[tree.length - 1]!;
  const seq = series.get(seqLabel)?.at(-1);
  const refused = Object.values(prop?.refused ?? {}).reduce((a, b) => a + b, 0);
  const failed = Object.values(prop?.failed ?? {}).reduce((a, b) => a + b, 0);
  return `${t.toFixed(0)} s: log ${size} (${((size - prevSize) / Math.max(t - prevT, 1e-3)).toFixed(0)}/s), sent ${prop?.sent ?? 0}/${prop?.offered ?? 0} offered, refused ${refused}, failed ${failed}; sequencer RSS ${memory(seq)}, ${seq?.fds ?? '?'} fds; load ${loadavg()[0]!.toFixed(1)}`;
}

async function observe(net: SoakNetwork, f: SoakFlags, dir: string, probeDir: string): Promise<Observed> {
  const load = await startLoad(net, f, dir, probeDir);
  const children: Child[] = [];
  try {
    children.push(...load.streams);
    // The streams connect and wait before the first proposal, so every run measures the same thing.
    await new Promise((r) => setTimeout(r, 5_000));
    const proposer = await load.proposer();
    children.push(proposer);
    const mine = new Map([net.sequencer, ...children].map((c) => [c.process.pid!, c.label]));
    const tracked = (await descendants(process.pid)).filter((p) => !p.label.startsWith('openssl')).map((p) => ({ pid: p.pid, label: mine.get(p.pid) ?? p.label }));
    progress(`sampling every ${f.sampleSeconds} s: ${tracked.map((p) => p.label).join(', ')}`);
    const series = new Map(tracked.map((p) => [p.label, [] as Sample[]]));
    const tree: Array<[number, number]> = [];
    const t0 = performance.now();
    const elapsed = (): number => (performance.now() - t0) / 1000;
    let done = false;
    void proposer.exited.then(() => { done = true; });
    while (!done) {
      const t = elapsed();
      await sampleAll(tracked, series, t, probeDir);
      tree.push([t, treeSize(load.streams)]);
      progress(line(t, tree, series, net.sequencer.label, proposer.last<ProposerStats>()));
      await Promise.race([new Promise((r) => setTimeout(r, f.sampleSeconds * 1000)), proposer.exited]);
    }
    const seconds = elapsed();
    // One last sample at the end, then the followers get a moment to catch up with the final head.
    await sampleAll(tracked, series, seconds, probeDir);
    tree.push([seconds, treeSize(load.streams)]);
    await new Promise((r) => setTimeout(r, 3_000));
    return { series, tree, seconds, proposer: proposer.last<ProposerStats>(), streams: load.streams.map((s) => s.last<StreamStats>()), calls: await sequencerCalls(net.metricsPort) };
  } finally {
    for (const c of children.reverse()) await c.stop(5_000);
  }
}

const sum = (m: Readonly<Record<string, number>> | undefined): number => Object.values(m ?? {}).reduce((a, b) => a + b, 0);

function sustained(tree: ReadonlyArray<[number, number]>): number {
  // The rate the log grew at after the warm-up share, as the leak check measures (tree sizes come
  // from the followers, a sample late at most).
  const from = tree[tree.length - 1]![0] * LEAK_DEFAULTS.warmupFraction;
  const steady = tree.filter(([t]) => t >= from);
  return steady.length >= 2 && steady[0]![0] !== steady[steady.length - 1]![0] ? fitLine(steady).slope : 0;
}

/** Entries in the log at the end: the followers' final word (they had a moment to catch up). */
function admittedOf(o: Observed): number {
  return Math.max(o.tree[o.tree.length - 1]![1], ...o.streams.map((s) => s?.size ?? 0));
}

// Cores a process kept busy over the run (CPU seconds / wall seconds): on a shared machine this
// tells a starved sequencer from a saturated one.
function cores(samples: readonly Sample[]): number | undefined {
  const [a, b] = [samples[0], samples[samples.length - 1]];
  if (a?.cpuSeconds === undefined || b?.cpuSeconds === undefined || b.t === a.t) return undefined;
  return (b.cpuSeconds - a.cpuSeconds) / (b.t - a.t);
}

// CPU the sequencer spent per 1,000 admitted indicators over the run: a figure the shared
// machine's load barely moves, unlike the admitted rate (the sequencer's CPU time counts only
// while it runs).
// Per entry delivered too: with N streams every admitted entry is delivered N times, so the
// fan-out's share shows apart from admission. The clients' CPU per delivered entry says what
// the followers (sharing this machine's cores) cost.
function cpuPerThousand(series: ReadonlyMap<string, readonly Sample[]>, sequencerLabel: string, admitted: number, delivered: number): BenchResult[] {
  const cpu = (samples: readonly Sample[] | undefined): number | undefined => {
    const [a, b] = [samples?.[0], samples?.at(-1)];
    return a?.cpuSeconds === undefined || b?.cpuSeconds === undefined ? undefined : b.cpuSeconds - a.cpuSeconds;
  };
  const seq = cpu(series.get(sequencerLabel));
  const clients = [...series].filter(([label]) => label.startsWith('partner streams')).map(([, s]) => cpu(s) ?? 0).reduce((x, y) => x + y, 0);
  const proposer = [...series].filter(([label]) => label.startsWith('proposer')).map(([, s]) => cpu(s) ?? 0).reduce((x, y) => x + y, 0);
  const out: BenchResult[] = [{ metric: 'entries delivered to the partner streams', value: delivered, unit: 'entries' }];
  if (seq !== undefined && admitted > 0) out.push({ metric: 'sequencer CPU per 1,000 admitted indicators', value: round((seq * 1000) / (admitted / 1000)), unit: 'CPU ms' });
  if (seq !== undefined && delivered > 0) out.push({ metric: 'sequencer CPU per 1,000 entries delivered (all of its CPU, admission included)', value: round((seq * 1000) / (delivered / 1000)), unit: 'CPU ms' });
  if (delivered > 0) out.push({ metric: 'partner stream processes\' CPU per 1,000 entries delivered (decode only, no verification)', value: round((clients * 1000) / (delivered / 1000)), unit: 'CPU ms' });
  if (admitted > 0) out.push({ metric: 'proposer process CPU per 1,000 admitted (signing, calls)', value: round((proposer * 1000) / (admitted / 1000)), unit: 'CPU ms' });
  return out;
}

function memoryPerEntry(f: SoakFlags, o: Observed, sequencerLabel: string): BenchResult[] {
  const samples = o.series.get(sequencerLabel) ?? [];
  const from = Math.max(o.seconds * LEAK_DEFAULTS.warmupFraction, LEAK_DEFAULTS.warmupSeconds);
  const anon = (s: Sample): number => s.anonBytes ?? s.rssBytes;
  const perEntry = bytesPerEntry(samples, o.tree, anon, { from });
  // The cache holds up to twice its cap before it trims back (log.ts): full for certain past 2 × cap.
  const cap = f.entryCache ?? DEFAULT_ENTRY_CACHE;
  const full = bytesPerEntry(samples, o.tree, anon, { from, minSize: 2 * cap });
  // What the sequencer keeps per entry by design (Merkle tree, the index of decided subjects), without the noise of buffers and GC.
  const live = bytesPerEntry(samples, o.tree, (s) => s.heap?.liveAfterGc, { from, minSize: 2 * cap });
  return [
    { metric: 'sequencer entry cache cap (--entry-cache)', value: cap, unit: 'entries' },
    ...(perEntry !== undefined ? [{ metric: `sequencer anonymous RSS growth per log entry after ${warmupName()} (Merkle tree + capped entry cache)`, value: round(perEntry.slope), unit: `bytes/entry (r² ${round(perEntry.r2, 2)})` }] : []),
    ...(full !== undefined ? [{ metric: `sequencer anonymous RSS growth per log entry once the entry cache is full (log ≥ ${2 * cap})`, value: round(full.slope), unit: `bytes/entry (r² ${round(full.r2, 2)}, ${full.points} samples)` }] : []),
    ...(live !== undefined ? [{ metric: `sequencer live JavaScript data growth per log entry once the entry cache is full (log ≥ ${2 * cap})`, value: round(live.slope), unit: `bytes/entry (r² ${round(live.r2, 2)}, ${live.points} samples)` }] : []),
  ];
}

function settingsText(args: readonly string[], env: Readonly<Record<string, string>>): string {
  const all = [...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return all.length === 0 ? 'none' : all.join(' ');
}

/** The samples of `label` as judged: `view` of them, and for the sequencer the log's size at each (its live data is judged per entry). */
function judged(o: Observed, label: string, sequencerLabel: string, view: (s: readonly Sample[]) => Sample[]): Sample[] {
  const s = view(o.series.get(label)!);
  return label === sequencerLabel ? withEntries(s, o.tree) : s;
}

/** The warm-up as the metric names say it. */
function warmupName(): string {
  return `the first ${LEAK_DEFAULTS.warmupFraction * 100}% (warm-up)`;
}

function results(f: SoakFlags, o: Observed, growth: ReadonlyMap<string, Growth>, sequencerLabel: string): BenchResult[] {
  const admitted = admittedOf(o);
  const out: BenchResult[] = [
    { metric: 'offered proposal rate (target)', value: f.rate, unit: 'proposals/s' },
    { metric: 'proposals sent per second (the rest of the schedule slipped: saturated)', value: round((o.proposer?.sent ?? 0) / o.seconds), unit: 'proposals/s' },
    { metric: 'admitted into the log per second, whole run', value: round(admitted / o.seconds), unit: 'indicators/s' },
    { metric: `admitted into the log per second, after ${warmupName()}`, value: round(sustained(o.tree)), unit: 'indicators/s' },
    { metric: 'admitted in all', value: admitted, unit: 'indicators' },
    { metric: 'refused proposals and votes', value: sum(o.proposer?.refused), unit: 'count' },
    { metric: 'failed proposer calls', value: sum(o.proposer?.failed), unit: 'count' },
    { metric: 'partner streams', value: o.streams.reduce((a, s) => a + (s?.streams ?? 0), 0), unit: 'streams' },
    { metric: 'failed stream calls', value: o.streams.reduce((a, s) => a + sum(s?.errors), 0), unit: 'count' },
    { metric: 'slowest stream behind the log at the end', value: admitted - Math.min(...o.streams.map((s) => s?.minSize ?? 0)), unit: 'entries' },
    { metric: 'run length', value: round(o.seconds), unit: 's' },
    ...(o.calls !== undefined && admitted > 0 ? [{ metric: 'calls the sequencer served per admitted indicator (proposer and followers)', value: round(o.calls / admitted), unit: 'calls' }] : []),
    ...cpuPerThousand(o.series, sequencerLabel, admitted, o.streams.reduce((a, s) => a + (s?.received ?? 0), 0)),
    ...memoryPerEntry(f, o, sequencerLabel),
    { metric: 'machine load average (1 min) at the end', value: round(loadavg()[0]!, 3), unit: 'runnable tasks' },
    { metric: 'sequencer Node flags and environment (beyond the probe)', value: f.nodeOptions.length + Object.keys(f.sequencerEnv).length, unit: settingsText(f.nodeOptions, f.sequencerEnv) },
    { metric: 'load processes\' (partner streams, proposer) Node flags and environment, pinned (bench/soak/network.ts)', value: LOAD_PROCESS_MEMORY.args.length + Object.keys(LOAD_PROCESS_MEMORY.env).length, unit: settingsText(LOAD_PROCESS_MEMORY.args, LOAD_PROCESS_MEMORY.env) },
  ];
  for (const [label, s] of o.series) {
    const c = cores(s);
    if (c !== undefined) out.push({ metric: `${label}: CPU used`, value: round(c, 3), unit: 'cores' });
  }
  for (const [label, g] of growth) out.push(...processResults(label, g, growthOf(judged(o, label, sequencerLabel, (s) => [...s]), f.leak), warmupName()));
  return out;
}

async function main(argv: readonly string[]): Promise<number> {
  const f = parseFlags(argv);
  if (f === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-soak-'));
  progress(`soak: ${f.minutes} min at ${f.rate} proposals/s offered, ${f.partners} partner streams over ${f.streamProcs} processes; work directory ${dir}`);
  const cp = await startControlPlane(controlPlaneOptionsFromEnv());
  let net: SoakNetwork | undefined;
  try {
    const probeDir = join(dir, 'probe');
    await mkdir(probeDir);
    net = await startSoakNetwork(cp, dir, { partners: f.partners, nodeOptions: f.nodeOptions, env: f.sequencerEnv, probeDir, ...(f.entryCache !== undefined ? { entryCache: f.entryCache } : {}) }, progress);
    const o = await observe(net, f, dir, probeDir);
    // The verdict is on anonymous memory: file pages (code) come and go with the kernel's page cache.
    const anon = (s: readonly Sample[]): Sample[] => s.map((x) => ({ ...x, rssBytes: x.anonBytes ?? x.rssBytes }));
    const growth = new Map([...o.series].filter(([, s]) => s.length > 0).map(([label]) => [label, growthOf(judged(o, label, net!.sequencer.label, anon), f.leak)]));
    const leaks = [...growth].filter(([, g]) => g.leak).map(([label, g]) => `${label}: ${g.notes.join('; ')}`);
    for (const l of leaks) progress(`LEAK ${l}`);
    for (const [label, g] of growth) if (g.sizing !== undefined) progress(`SIZING ${label}: ${g.sizing}`);
    emit(results(f, o, growth, net.sequencer.label));
    emitSummary({
      leak: leaks.length > 0, leaks, minutes: f.minutes, targetRate: f.rate, sustainedRate: round(sustained(o.tree)), admitted: admittedOf(o),
      proposer: o.proposer, streams: o.streams, tree: o.tree.map(([t, n]) => [round(t), n]),
      processes: Object.fromEntries([...growth].map(([label, g]) => [label, { ...g, series: seriesRows(o.series.get(label)!), seriesColumns: SERIES_COLUMNS }])),
    });
    return leaks.length > 0 ? 3 : 0;
  } finally {
    await net?.stop();
    await cp.stop();
    if (!f.keep) await rm(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
