/**
 * A new term's resync of the ThreatIndicator controller (issues 14 and 18): N approved
 * ThreatIndicators with three single signed votes each, judged by a first (cold) term, then by a
 * second term built as startOperator builds one (a new voter registry seeded from the
 * PartnerNodes, a new reconciler) in two wirings side by side in this one process:
 *   main:   each term parses the voters' keys anew, each key with a memory of its own (what main
 *           does: a new term starts with empty memories);
 *   shared: the keys are parsed with the process's VerifiedSignatures, which the first term
 *           filled (this branch's `threatmesh operator`).
 * CPU milliseconds of this process for the term's reconciles only (objects listed beforehand,
 * status writes to an in-memory store: unchanged objects write nothing) and Ed25519
 * verifications counted by wrapping node:crypto's `verify`. Also the heap cost of one
 * remembered signature.
 */
import { cpuMillis, emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startCountingVerifications } from '../e2e/harness/verifycount.ts';
import { MemoryKube, TestClock, indicator, partner, signedVote, testContext, type TestPartner } from '../operator/src/controllers/fixtures.ts';
import { seedRegistry } from '../operator/src/controllers/setup.ts';
import { ThreatIndicatorReconciler } from '../operator/src/controllers/threatindicator.ts';
import { THREAT_INDICATORS } from '../operator/src/api/schemas/index.ts';
import { createValidators, validatorFor } from '../operator/src/api/validate.ts';
import { VoterRegistry } from '../operator/src/api/partners.ts';
import type { PartnerNode, ThreatIndicator } from '../operator/src/api/types.ts';
import { SHARED_SIGNATURES_KEPT, VerifiedSignatures } from '../operator/src/domain/signature.ts';

/** What `npm run bench -- resync --help` prints. */
const USAGE: BenchUsage = {
  name: 'resync',
  args: '[N...]',
  measures: 'A new term\'s resync of the ThreatIndicator controller: N approved ThreatIndicators with three single signed votes each, judged again by a new term with the keys parsed per term (main) and with the process\'s shared memory of verified signatures (this branch), side by side in one process: CPU ms of the reconciles and Ed25519 verifications. Also the first, cold term and the heap bytes per remembered signature. No control plane: status writes go to an in-memory store.',
  knobs: [['N...', 'indicator counts (default 14000, the chaos run\'s objects per partner); only the default run\'s results may be committed']],
};
if (helpAsked(USAGE)) process.exit(0);

const SIZES = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
// 14,000: the chaos run's objects per partner. Larger counts run when named (about 1 ms of CPU per object and term).
const COUNTS = SIZES.length > 0 ? SIZES : [14_000];
const HOUR = 3_600_000;
const validators = createValidators();
const verifies = startCountingVerifications();
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

function ipv4(i: number): string {
  return `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

interface Term { readonly cpuMs: number; readonly verified: number }

/** One term: a new registry seeded from `nodes` (keys parsed with `memory`, or each with its own) and a new reconciler judge `objects`. */
async function term(kube: MemoryKube, nodes: readonly PartnerNode[], objects: readonly ThreatIndicator[], memory: VerifiedSignatures | undefined): Promise<Term> {
  const ctx = testContext(new TestClock('2026-11-25T12:00:00Z'));
  const registry = new VoterRegistry();
  seedRegistry(registry, nodes, validatorFor(validators, 'PartnerNode'), memory);
  const r = new ThreatIndicatorReconciler({ status: kube, registry, validator: validatorFor(validators, 'ThreatIndicator'), policy: { votingWindowMs: 24 * HOUR } });
  verifies.reset();
  const c0 = cpuMillis();
  for (const o of objects) await r.reconcile(ctx, `tm/${o.metadata.name}`, o);
  return { cpuMs: cpuMillis() - c0, verified: verifies.count };
}

async function resync(count: number, voters: readonly TestPartner[]): Promise<BenchResult[]> {
  progress(`N=${count}: signing ${3 * count} votes`);
  const kube = new MemoryKube();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const ti = indicator(`ti-${i}`, { value: ipv4(i) });
    kube.seed(THREAT_INDICATORS, { ...ti, status: { votes: voters.map((p) => signedVote(p, ti, 'approve')) } });
    names.push(ti.metadata.name);
  }
  const list = (): ThreatIndicator[] => names.map((n) => kube.peek<ThreatIndicator>(THREAT_INDICATORS, n, 'tm') as ThreatIndicator);
  const nodes = voters.map((p) => p.node);
  const shared = new VerifiedSignatures(SHARED_SIGNATURES_KEPT);
  progress(`N=${count}: first term (cold)`);
  const first = await term(kube, nodes, list(), shared);
  const judged = list();
  const approved = judged.filter((t) => t.status?.phase === 'Approved').length;
  if (approved !== count) throw new Error(`only ${approved}/${count} Approved after the first term`);
  progress(`N=${count}: new term, main wiring`);
  const main = await term(kube, nodes, judged, undefined);
  progress(`N=${count}: new term, shared memory`);
  const branch = await term(kube, nodes, judged, shared);
  const line = `N=${count}: first ${Math.round(first.cpuMs)} ms / ${first.verified}; new term main ${Math.round(main.cpuMs)} ms / ${main.verified}; shared ${Math.round(branch.cpuMs)} ms / ${branch.verified} (CPU / verifications)`;
  progress(line);
  process.stdout.write(`${line}\n`);
  const at = `N=${count}, 3 votes each`;
  return [
    { metric: `${at}: first term (cold), CPU`, value: round(first.cpuMs), unit: 'ms' },
    { metric: `${at}: first term (cold), Ed25519 verifications`, value: first.verified, unit: 'verifications' },
    { metric: `${at}: new term, main wiring (keys parsed per term), CPU`, value: round(main.cpuMs), unit: 'ms' },
    { metric: `${at}: new term, main wiring, Ed25519 verifications`, value: main.verified, unit: 'verifications' },
    { metric: `${at}: new term, shared memory (this branch), CPU`, value: round(branch.cpuMs), unit: 'ms' },
    { metric: `${at}: new term, shared memory, Ed25519 verifications`, value: branch.verified, unit: 'verifications' },
    { metric: `${at}: signatures remembered by the shared memory`, value: shared.size, unit: 'signatures' },
  ];
}

/** Heap bytes per remembered signature: a memory filled with `n` ids, after a collection. */
function bytesPerEntry(n: number): BenchResult {
  gc();
  const before = process.memoryUsage().heapUsed;
  const memory = new VerifiedSignatures(n);
  for (let i = 0; i < n; i++) memory.add(VerifiedSignatures.id(Buffer.alloc(32, 1), Buffer.from(`vote ${i}`), Buffer.alloc(64, 2)));
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / memory.size;
  return { metric: `heap per remembered signature (${n} kept)`, value: round(bytes), unit: 'bytes' };
}

async function main(): Promise<void> {
  const voters = ['acme', 'globex', 'initech'].map((id) => partner(id));
  const results: BenchResult[] = [];
  for (const count of COUNTS) results.push(...await resync(count, voters));
  results.push(bytesPerEntry(100_000));
  verifies.stop();
  emit(results);
}

await main();
