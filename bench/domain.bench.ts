/**
 * Domain core benchmarks: Ed25519 through the signature API against a bare node:crypto loop,
 * quorum decisions for 7 voters (signatures verified), and the Merkle log at 1,000,000 leaves.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { decideQuorum, signVote, type Vote, type Voter } from '../operator/src/domain/quorum.ts';
import { MerkleLog, verifyInclusion } from '../operator/src/domain/merkle.ts';
import { SigningKey, signedBytes } from '../operator/src/domain/signature.ts';
import { emit, median, progress, rate, round, timed, type BenchResult, type Rate, helpAsked, type BenchUsage } from './lib.ts';

/** What `npm run bench -- domain --help` prints. */
const USAGE: BenchUsage = {
  name: 'domain',
  measures: 'The pure domain core on one core: Ed25519 signing and verification through the signature API against a bare node:crypto loop, quorum decisions for 7 voters (signatures verified), and the Merkle log at 1,000,000 leaves (append, root, 20,000 inclusion proofs). No arguments; nothing to start.',
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

const ROUNDS = 5;
const ROUND_MS = 400;
const LEAVES = 1_000_000;
const PROOFS = 20_000;

function signatures(results: BenchResult[]): void {
  const key = SigningKey.generate();
  const message = JSON.stringify({ kind: 'vote', digest: 'a'.repeat(64), decision: 'approve', partnerId: 'partner-1', signedAt: '2026-03-01T00:00:00Z' });
  const signature = key.sign('vote', message);
  // The bare loop verifies the very bytes the API verifies, with a KeyObject parsed once.
  const bareKeyObject = createPublicKey(key.publicKey.toPem());
  const bareData = signedBytes('vote', message);
  const bareSig = Buffer.from(signature, 'base64');
  const barePrivate = createPrivateKey(key.toPem());

  const api = { sign: [] as Rate[], verify: [] as Rate[] };
  const bare = { sign: [] as Rate[], verify: [] as Rate[] };
  // Alternate API and bare rounds so that load from other processes hits both alike.
  for (let r = 0; r < ROUNDS; r += 1) {
    api.verify.push(rate(() => { if (!key.publicKey.verify('vote', message, signature)) throw new Error('verify failed'); }, ROUND_MS));
    bare.verify.push(rate(() => { if (!cryptoVerify(null, bareData, bareKeyObject, bareSig)) throw new Error('verify failed'); }, ROUND_MS));
    api.sign.push(rate(() => key.sign('vote', message), ROUND_MS));
    bare.sign.push(rate(() => cryptoSign(null, bareData, barePrivate), ROUND_MS));
  }
  // Load-independent view of the wrapper's cost: the work it adds around crypto.verify (prefixing, base64).
  const prep = medianRate(Array.from({ length: ROUNDS }, () => rate(() => { signedBytes('vote', message); Buffer.from(signature, 'base64'); }, 100, 1000)));
  results.push({ metric: 'ed25519.verify.api_added_work', value: round(1e6 / prep.cpu), unit: 'µs/call' });
  progress(`verify: the API adds ${(1e6 / prep.cpu).toFixed(2)} µs of work per call (prefix + base64 decode)`);
  for (const op of ['verify', 'sign'] as const) {
    const mine = medianRate(api[op]);
    const theirs = medianRate(bare[op]);
    progress(`${op}: API ${mine.cpu.toFixed(0)}/cpu-s (${mine.wall.toFixed(0)}/s wall), bare crypto.${op} ${theirs.cpu.toFixed(0)}/cpu-s (${theirs.wall.toFixed(0)}/s wall)`);
    results.push(
      { metric: `ed25519.${op}.api`, value: round(mine.cpu), unit: 'ops/cpu-s' },
      { metric: `ed25519.${op}.bare_crypto_${op}`, value: round(theirs.cpu), unit: 'ops/cpu-s' },
      { metric: `ed25519.${op}.api_to_bare_ratio`, value: round(mine.cpu / theirs.cpu, 3), unit: 'ratio' },
      { metric: `ed25519.${op}.api_wall`, value: round(mine.wall), unit: 'ops/s' },
      { metric: `ed25519.${op}.bare_wall`, value: round(theirs.wall), unit: 'ops/s' },
    );
  }
}

function medianRate(rates: readonly Rate[]): Rate {
  return { wall: median(rates.map((r) => r.wall)), cpu: median(rates.map((r) => r.cpu)) };
}

function quorum(results: BenchResult[]): void {
  const digest = 'c'.repeat(64);
  const keys = Array.from({ length: 7 }, () => SigningKey.generate());
  const voters: Voter[] = keys.map((k, i) => ({ partnerId: `partner-${i}`, publicKey: k.publicKey, roles: ['voter'] }));
  const votes: Vote[] = keys.map((k, i) => signVote(k, { partnerId: `partner-${i}`, digest, decision: i < 5 ? 'approve' : 'reject', signedAt: '2026-03-01T00:10:00Z' }));
  const input = { voters, votes, digest, window: { opensAt: '2026-03-01T00:00:00Z', closesAt: '2026-03-01T01:00:00Z' }, now: '2026-03-01T00:30:00Z' };
  if (decideQuorum(input).decision !== 'approved') throw new Error('quorum bench setup is wrong');
  const perSecond = medianRate(Array.from({ length: ROUNDS }, () => rate(() => decideQuorum(input), ROUND_MS, 10)));
  progress(`quorum: ${perSecond.cpu.toFixed(0)} decisions/cpu-s, ${perSecond.wall.toFixed(0)}/s wall (7 voters, 7 signed votes, every signature verified)`);
  results.push(
    { metric: 'quorum.decisions_7_voters_7_votes_verified', value: round(perSecond.cpu), unit: 'decisions/cpu-s' },
    { metric: 'quorum.decisions_7_voters_7_votes_verified_wall', value: round(perSecond.wall), unit: 'decisions/s' },
  );
}

function merkle(results: BenchResult[]): void {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  const log = new MerkleLog();
  const entry = Buffer.alloc(40);
  const append = timed(() => {
    for (let i = 0; i < LEAVES; i += 1) {
      entry.writeUInt32BE(i, 0);
      log.append(entry);
    }
  });
  const after = process.memoryUsage();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  progress(`merkle: appended ${LEAVES} leaves in ${append.wallMs.toFixed(0)} ms wall, ${append.cpuMs.toFixed(0)} ms CPU; peak RSS ${peakRssMb.toFixed(0)} MB`);

  const root = log.rootHash();
  const roots = timed(() => { for (let i = 0; i < PROOFS; i += 1) log.rootHash(); });
  const indexes = Array.from({ length: PROOFS }, (_, i) => (i * 7919 + 13) % LEAVES);
  const proofs: string[][] = [];
  const inclusion = timed(() => { for (const index of indexes) proofs.push(log.inclusionProof(index)); });
  const consistency = timed(() => { for (let i = 0; i < PROOFS; i += 1) log.consistencyProof(1 + ((i * 104_729) % (LEAVES - 1))); });
  const verification = timed(() => {
    indexes.forEach((index, i) => {
      if (!verifyInclusion(log.leafHash(index), index, LEAVES, proofs[i]!, root)) throw new Error('proof did not verify');
    });
  });
  const us = (t: { cpuMs: number; wallMs: number }): { cpu: number; wall: number } => ({ cpu: (t.cpuMs * 1000) / PROOFS, wall: (t.wallMs * 1000) / PROOFS });
  const [r, inc, con, ver] = [us(roots), us(inclusion), us(consistency), us(verification)];
  progress(`merkle at 1M (CPU µs each): root ${r.cpu.toFixed(1)}, inclusion proof ${inc.cpu.toFixed(1)}, consistency proof ${con.cpu.toFixed(1)}, verify inclusion ${ver.cpu.toFixed(1)}`);

  results.push(
    { metric: 'merkle.append_1m.cpu', value: round(append.cpuMs), unit: 'ms' },
    { metric: 'merkle.append_1m.wall', value: round(append.wallMs), unit: 'ms' },
    { metric: 'merkle.append_1m.peak_rss', value: round(peakRssMb), unit: 'MB' },
    { metric: 'merkle.append_1m.rss_growth', value: round((after.rss - before.rss) / 2 ** 20), unit: 'MB' },
    { metric: 'merkle.append_1m.array_buffers_growth', value: round((after.arrayBuffers - before.arrayBuffers) / 2 ** 20), unit: 'MB' },
    { metric: 'merkle.append_1m.heap_used_growth', value: round((after.heapUsed - before.heapUsed) / 2 ** 20), unit: 'MB' },
    { metric: 'merkle.root_1m.cpu', value: round(r.cpu), unit: 'µs' },
    { metric: 'merkle.inclusion_proof_1m.cpu', value: round(inc.cpu), unit: 'µs/proof' },
    { metric: 'merkle.inclusion_proof_1m.wall', value: round(inc.wall), unit: 'µs/proof' },
    { metric: 'merkle.consistency_proof_1m.cpu', value: round(con.cpu), unit: 'µs/proof' },
    { metric: 'merkle.consistency_proof_1m.wall', value: round(con.wall), unit: 'µs/proof' },
    { metric: 'merkle.verify_inclusion_1m.cpu', value: round(ver.cpu), unit: 'µs/proof' },
  );
}

const results: BenchResult[] = [];
signatures(results);
quorum(results);
merkle(results);
emit(results);
