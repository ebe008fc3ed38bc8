/**
 * `node bench/cpuprofile.ts [--sequencer] PROFILE [CPU_MS]`: groups the samples of a V8 CPU
 * profile by what the process was doing: each sample goes to the first group of the list that
 * matches a frame on its stack. Prints each group's share of the busy samples (idle and the
 * profiler left out) and, given the process's CPU per 1,000 entries (CPU_MS), that share in ms.
 * Without a flag, the groups of a partner's catch-up (the scale bench, BENCH_SCALE_CPUPROF;
 * notes/issue-14-catchup.md); with `--sequencer`, those of a sequencer under the soak's load
 * (`npm run bench -- soak --sequencer-node-options="--cpu-prof --cpu-prof-dir=DIR"`). A probe
 * for notes, not part of `npm run bench`.
 */
import { readFileSync } from 'node:fs';

interface Frame {
  readonly functionName: string;
  readonly url: string;
}

interface Profile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: Frame; readonly children?: readonly number[] }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const NOT_BUSY = new Set(['idle', 'profiler']);

/** Groups, most specific first. */
const GROUPS: ReadonlyArray<readonly [string, (f: Frame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['profiler', (f) => f.url.includes('node:inspector') || f.url.includes('bench/scale-partner')],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['verify: vote batch proofs', (f) => f.functionName === 'leafInBatch'],
  ['verify: proposal batch proof', (f) => f.functionName === 'verifySignedProposal'],
  ['verify: log inclusion proof', (f) => f.functionName === 'verifyInclusion' && f.url.includes('merkle')],
  ['verify: entry leaf hash', (f) => f.functionName === 'entryLeafHash'],
  ['verify: Ed25519', (f) => f.url.endsWith('domain/signature.ts') && f.functionName === 'verify'],
  ['verify: indicator digest', (f) => f.functionName === 'indicatorDigest'],
  ['verify: rest (quorum decision, fields)', (f) => /partner\/verifier\.ts|domain\/verify\.ts|domain\/quorum\.ts/.test(f.url)],
  ['materializer (kube client)', (f) => /runtime\/kube|kubesink|materializer|node:https?$|_http_/.test(f.url)],
  ['log server (sequencer side)', (f) => /exchange\/sequencer|e2e\/harness/.test(f.url)],
  ['gRPC receive + wire decode', (f) => /@grpc|protocol\/wire|protocol\/client|protobuf|http2/.test(f.url)],
  ['sink: record building', (f) => (f.url.endsWith('store/entryrecords.ts') && f.functionName === 'record') || f.url.endsWith('store/certificate.ts')],
  ['sink: replica_recent', (f) => f.url.includes('recentrecords')],
  ['sink: served-changes journal', (f) => f.url.includes('servedchanges')],
  ['MongoDB driver + BSON', (f) => /node_modules\/(mongodb|bson)\//.test(f.url)],
  ['sink: rest', (f) => f.url.includes('/store/')],
];

/** Groups of a sequencer's profile, most specific first. */
const SEQUENCER_GROUPS: ReadonlyArray<readonly [string, (f: Frame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  // The soak's memory probe is the bench's, not the sequencer's: left out like the profiler.
  ['profiler', (f) => f.url.endsWith('bench/soak/memprobe.ts')],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['native code outside JavaScript ((program))', (f) => f.functionName === '(program)'],
  ['Ed25519 verification', (f) => f.url.endsWith('domain/signature.ts') && f.functionName === 'verify'],
  ['proposal and vote batch proofs', (f) => /^(leafInBatch|verifySignedProposal|verifyBatchProof)$/.test(f.functionName)],
  ['tree head signing', (f) => f.url.endsWith('domain/treehead.ts')],
  ['peer certificate (TLS)', (f) => f.functionName === 'getPeerCertificate'],
  ['quorum decision', (f) => f.url.endsWith('domain/quorum.ts')],
  ['log append, Merkle tree, proofs', (f) => f.url.endsWith('sequencer/log.ts') || f.url.endsWith('domain/merkle.ts')],
  ['batch packing and fan-out', (f) => /sequencer\/(batches|fanout)\.ts$/.test(f.url)],
  ['MongoDB driver + BSON', (f) => /node_modules\/(mongodb|bson)\//.test(f.url)],
  ['canonical JSON, digests, indicator checks', (f) => /domain\/(canonical|indicator|normalize|entry)\.ts$/.test(f.url)],
  ['protobuf encode/decode', (f) => /protocol\/(wire|messages|proto)\.ts$|protobufjs/.test(f.url)],
  ['admission: rounds, votes (sequencer code)', (f) => /exchange\/sequencer\/(sequencer|pending|service|refusals|rejection)\.ts$/.test(f.url)],
  ['endpoint: call handling (server.ts, protocol/)', (f) => /exchange\/(sequencer\/server|protocol\/)/.test(f.url)],
  ['gRPC, HTTP/2, TLS, sockets', (f) => /@grpc|node:(internal\/)?(http2|net|tls|_tls|stream)|internal\/http2|internal\/streams/.test(f.url)],
];

function groupOf(groups: typeof GROUPS, stack: readonly Frame[]): string {
  return groups.find(([, match]) => stack.some(match))?.[0] ?? 'other';
}

const args = process.argv.slice(2);
const groups = args[0] === '--sequencer' ? SEQUENCER_GROUPS : GROUPS;
const [file, cpu] = args[0] === '--sequencer' ? args.slice(1) : args;
if (file === undefined) {
  process.stderr.write('usage: node bench/cpuprofile.ts [--sequencer] PROFILE [CPU_MS_PER_1000]\n');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map<string, number>();
p.samples.forEach((id, i) => {
  const stack: Frame[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame);
  const g = groupOf(groups, stack);
  time.set(g, (time.get(g) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const busy = [...time].filter(([g]) => !NOT_BUSY.has(g)).reduce((a, [, t]) => a + t, 0);
const scale = cpu === undefined ? undefined : Number(cpu);
process.stdout.write(`busy samples: ${(busy / 1000).toFixed(0)} ms (idle ${((time.get('idle') ?? 0) / 1000).toFixed(0)} ms, profiler ${((time.get('profiler') ?? 0) / 1000).toFixed(0)} ms left out)\n`);
for (const [g, t] of [...time].filter(([g]) => !NOT_BUSY.has(g)).sort((a, b) => b[1] - a[1])) {
  const ms = scale === undefined ? '' : `${String(Math.round((scale * t) / busy)).padStart(5)} ms  `;
  process.stdout.write(`${((100 * t) / busy).toFixed(1).padStart(5)} %  ${ms}${g}\n`);
}
