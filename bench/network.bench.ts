/**
 * The whole network on this machine, as `threatmesh sandbox` runs it: a sequencer and three
 * partner clusters (own kube-apiserver, FerretDB and ThreatMesh process each; quorum 2 of 3).
 * Partner A ingests N made-up SHA-256 indicators; measured: network start (warm control-plane
 * build), the feed run, time until the sequencer admitted all N, and until every partner holds
 * them as Approved ThreatIndicators with the sequencer's tree size and root. Everything shares
 * this machine's cores. Also counted: ThreatIndicator requests per indicator at each partner's
 * kube-apiserver (apiserver_request_total). N: argv or BENCH_NETWORK_COUNT (default 2000).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { parseVmRss } from './procfs.ts';
import { apiRequestCounts, countsSince, type MetricsTarget } from '../operator/src/dev/controlplane/apimetrics.ts';
import { sandboxFeedObject, SANDBOX_FEED } from '../operator/src/dev/commands/sandbox.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { createLogger } from '../operator/src/log.ts';
import { notConverged, type NetworkView } from '../operator/src/dev/sandbox/convergence.ts';
import { startFeedServer } from '../operator/src/dev/sandbox/feedserver.ts';
import { startNetwork } from '../operator/src/dev/sandbox/network.ts';

/** What `npm run bench -- network --help` prints. */
const USAGE: BenchUsage = {
  name: 'network',
  args: '[N]',
  measures: 'The whole network as `threatmesh sandbox` runs it (a sequencer and three partner clusters with their own kube-apiserver, FerretDB and ThreatMesh process; quorum 2 of 3): network start, partner A\'s feed run of N made-up SHA-256 indicators, time until the sequencer admitted all N, and until every partner holds them Approved with the sequencer\'s tree size and root.',
  knobs: [
    ['N', 'indicators of the feed (or BENCH_NETWORK_COUNT; default 2000)'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

/** Sum of VmRSS of the processes whose command line names `dir` (Linux /proc). */
async function networkRssMb(dir: string): Promise<number> {
  let bytes = 0;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(dir)) continue;
      bytes += parseVmRss(await readFile(`/proc/${pid}/status`, 'utf8')) ?? 0;
    } catch {
      // The process ended meanwhile.
    }
  }
  return bytes / 1024 / 1024;
}

const count = Number(process.argv[2] ?? process.env['BENCH_NETWORK_COUNT'] ?? 2000);
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-network-'));
const feedFile = join(dir, 'bench-iocs.txt');
await writeFile(feedFile, Array.from({ length: count }, (_, i) => createHash('sha256').update(`threatmesh-bench-${i}`).digest('hex')).join('\n') + '\n');

const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
const t0 = performance.now();
const net = await startNetwork({
  dir: join(dir, 'net'), partners: 3, quorum: 2, fresh: true, binaries, start: {}, syncInterval: '1s', log: quiet,
  cli: { node: process.execPath, main: fileURLToPath(new URL('../operator/src/main.ts', import.meta.url)) }, progress,
});
const startMs = performance.now() - t0;
const feeds = await startFeedServer(new Map([['bench-iocs.txt', feedFile]]));
try {
  const a = net.partners[0]!;
  const targets: MetricsTarget[] = net.partners.map((p) => ({ server: p.cluster.server, ca: p.cluster.caPem, cert: p.cluster.certPem, key: p.cluster.keyPem }));
  const requests0 = await Promise.all(targets.map((t) => apiRequestCounts(t, 'threatindicators')));
  const t1 = performance.now();
  await net.addFeed(a, sandboxFeedObject({ servedName: 'bench-iocs.txt', path: feedFile, format: 'lines', preset: undefined, description: 'bench' }, feeds.baseUrl));
  let feedMs: number | undefined;
  let admittedMs: number | undefined;
  let last: NetworkView | undefined;
  const deadline = t1 + 30 * 60_000;
  for (;;) {
    last = await net.view({ partner: a, name: SANDBOX_FEED });
    const now = performance.now() - t1;
    if (feedMs === undefined && last.feedDone) feedMs = now;
    if (admittedMs === undefined && last.sequencer?.treeSize === count) admittedMs = now;
    if (last.sequencer?.treeSize === count && notConverged(last).length === 0) break;
    if (performance.now() > deadline) throw new Error(`not converged after 30 min: ${JSON.stringify(notConverged(last))}`);
    progress(`sequencer ${last.sequencer?.treeSize ?? '?'}/${count}; partners ${last.partners.map((p) => `${p.name} ${p.treeSize ?? 0} (${p.phases['Approved'] ?? 0} Approved)`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const convergedMs = performance.now() - t1;
  // Every ThreatIndicator request each partner's API server served (feed, forwarder, controller, working set), informer LIST/WATCH left out.
  const perPartner = await Promise.all(targets.map(async (t, i) => {
    const { LIST: _l, WATCH: _w, ...rest } = countsSince(requests0[i]!, await apiRequestCounts(t, 'threatindicators'));
    progress(`${net.partners[i]!.id}: ThreatIndicator requests ${JSON.stringify(rest)}`);
    return Object.values(rest).reduce((x, y) => x + y, 0) / count;
  }));
  const rss = await networkRssMb(dir);
  const results: BenchResult[] = [
    { metric: 'network start: 4 clusters + sequencer + 3 operators (warm build)', value: round(startMs / 1000, 3), unit: 's' },
    { metric: 'feed run at partner A (fetch, parse, propose as ThreatIndicators)', value: round((feedMs ?? convergedMs) / 1000, 3), unit: 's' },
    { metric: 'admitted at the sequencer (forwarded, 3 auto-voters, quorum 2)', value: round(count / ((admittedMs ?? convergedMs) / 1000), 3), unit: 'indicators/s' },
    { metric: 'end to end: feed created → Approved in all 3 partner clusters, equal roots', value: round(count / (convergedMs / 1000), 3), unit: 'indicators/s' },
    { metric: 'time to converge', value: round(convergedMs / 1000, 3), unit: 's' },
    ...perPartner.map((r, i) => ({ metric: `ThreatIndicator requests per indicator at ${net.partners[i]!.id}'s kube-apiserver (every writer, informer list/watch excluded)`, value: round(r, 3), unit: 'requests' })),
    { metric: 'resident memory of every network process at convergence (4 apiservers+etcd, 4 controller managers, 4 FerretDB, 4 ThreatMesh processes)', value: round(rss, 3), unit: 'MB' },
    { metric: 'indicators', value: count, unit: 'count' },
  ];
  emit(results);
} finally {
  await feeds.close();
  await net.stop();
  await rm(dir, { recursive: true, force: true });
}
