/**
 * `threatmesh demo` without any cluster: a whole ThreatMesh admission round on pure domain code — normalize a feed, propose, vote with
 * several partners' Ed25519 keys, decide quorum, append approved indicators to an RFC 9162
 * Merkle log, sign the tree head and check every inclusion proof.
 */
import { detectType, normalize, type Indicator } from '../../domain/indicator.ts';
import { indicatorDigest, indicatorObjectName, canonicalJson } from '../../domain/canonical.ts';
import { stixPattern } from '../../domain/stix.ts';
import { SigningKey } from '../../domain/signature.ts';
import { decideQuorum, signVote, type Voter } from '../../domain/quorum.ts';
import { MerkleLog, verifyInclusion } from '../../domain/merkle.ts';
import { signLogHead, verifyTreeHead } from '../../domain/treehead.ts';

/** One line of demo output. */
export type DemoEvent =
  | { event: 'rejected'; line: number; input: string; reason: string; message: string }
  | { event: 'duplicate'; line: number; input: string; digest: string }
  | { event: 'approved'; name: string; type: string; value: string; pattern: string; digest: string; approvals: number; required: number; logIndex: number }
  | { event: 'tree-head'; treeSize: number; rootHash: string; logId: string; signatureValid: boolean; inclusionProofsValid: number };

/** Runs one admission round over `lines` with `partners` generated voters, all at instant `now`. */
export function runDemoRound(lines: readonly string[], partners: number, now: Date): DemoEvent[] {
  const keys = Array.from({ length: partners }, () => SigningKey.generate());
  const voters: Voter[] = keys.map((k, i) => ({ partnerId: `partner-${String.fromCharCode(97 + i)}`, publicKey: k.publicKey, roles: ['contributor', 'voter'] }));
  const sequencer = SigningKey.generate();
  const log = new MerkleLog();
  const events: DemoEvent[] = [];
  const seen = new Set<string>();
  const window = { opensAt: now, closesAt: new Date(now.getTime() + 3_600_000) };

  lines.forEach((raw, i) => {
    const input = raw.trim();
    if (input === '' || input.startsWith('#')) return;
    const type = detectType(input) ?? 'domain';
    const result = normalize(type, input);
    if (!result.ok) {
      events.push({ event: 'rejected', line: i + 1, input, reason: result.rejection.reason, message: result.rejection.message });
      return;
    }
    const digest = indicatorDigest(result.indicator);
    if (seen.has(digest)) {
      events.push({ event: 'duplicate', line: i + 1, input, digest });
      return;
    }
    seen.add(digest);
    const votes = keys.map((k, v) => signVote(k, { partnerId: voters[v]!.partnerId, digest, decision: 'approve', signedAt: now.toISOString() }));
    const outcome = decideQuorum({ voters, votes, digest, window, now });
    if (outcome.decision !== 'approved') return;
    const logIndex = log.append(canonicalJson({ indicator: result.indicator, votes }));
    events.push(approvedEvent(result.indicator, digest, outcome.approvals, outcome.required, logIndex));
  });

  const head = signLogHead(sequencer, log, now);
  let proofsValid = 0;
  for (let i = 0; i < log.size; i++) {
    if (verifyInclusion(log.leafHash(i), i, log.size, log.inclusionProof(i), head.rootHash)) proofsValid++;
  }
  events.push({ event: 'tree-head', treeSize: head.treeSize, rootHash: head.rootHash, logId: head.logId, signatureValid: verifyTreeHead(sequencer.publicKey, head), inclusionProofsValid: proofsValid });
  return events;
}

function approvedEvent(ind: Indicator, digest: string, approvals: number, required: number, logIndex: number): DemoEvent {
  return { event: 'approved', name: indicatorObjectName(ind), type: ind.type, value: ind.value, pattern: stixPattern(ind), digest, approvals, required, logIndex };
}
