/**
 * Signed tree heads and consistency proofs from the wire (GetTreeHead, GetConsistencyProof and
 * gossip: exchange/protocol/wire.ts headFromWire, domain/verify.ts checkTreeHead,
 * checkConsistency, checkPeerHead), the messages a partner judges the sequencer's log by. A
 * fixture log of 16 entries has a head signed at every size; each case takes an accepted head
 * and a newer one with the proof between them, mutates the head (fields or bytes) or the proof
 * (bytes, or as a list: valid hashes dropped, repeated, added, replaced, reordered, cut)
 * and decodes and checks them as a partner does. Properties: nothing throws; an accepted head is
 * exactly the message that was signed (it re-encodes to it and its root is the log's root at its
 * size); an accepted proof is the log's own proof (a proof is unique: any other that verifies
 * would be a hash collision or a verifier bug).
 */
import { MerkleLog } from '../../operator/src/domain/merkle.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signTreeHead, type SignedTreeHead } from '../../operator/src/domain/treehead.ts';
import { checkConsistency, checkPeerHead, checkTreeHead, type TrustAnchors } from '../../operator/src/domain/verify.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { headFromWire, headToWire } from '../../operator/src/exchange/protocol/wire.ts';
import { Rng } from '../rng.ts';
import { check, Finding, same, type FuzzTarget } from '../target.ts';
import { plain, roundTrip } from './exchange.ts';

const SIZE = 16;
const svc = loadExchangePackage().Exchange.service;

interface Fixture { readonly log: MerkleLog; readonly heads: SignedTreeHead[]; readonly anchors: TrustAnchors }

function buildFixture(): Fixture {
  const rng = new Rng(5, 6, 7, 8);
  const log = new MerkleLog();
  for (let i = 0; i < SIZE; i++) log.append(`entry ${i} ${rng.u32()}`);
  const key = SigningKey.generate();
  const heads = Array.from({ length: SIZE + 1 }, (_, n) => signTreeHead(key, { treeSize: n, rootHash: log.rootHash(n), timestamp: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString() }));
  return { log, heads, anchors: { sequencerKey: key.publicKey, partners: [], quorum: 1 } };
}

const state: { fixture?: Fixture } = {};

/** Runs a check that must never throw; a throw is a crash finding. */
function guarded<T>(what: string, input: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Finding('crash', `${what} threw ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}`, input);
  }
}

/** A proof changed as a list of valid hashes: one dropped, repeated, added, replaced or moved, or the list cut. */
function spoilProof(rng: Rng, f: Fixture, proof: readonly string[]): string[] {
  const out = [...proof];
  const other = (): string => rng.chance(0.5) ? f.log.leafHash(rng.int(SIZE)) : f.log.rootHash(rng.int(SIZE + 1));
  const at = rng.int(out.length + 1);
  switch (rng.int(6)) {
    case 0: out.splice(at, 1); break;
    case 1: if (out.length > 0) out.splice(at, 0, out[Math.min(at, out.length - 1)]!); break;
    case 2: out.splice(at, 0, other()); break;
    case 3: out.splice(at, 1, other()); break;
    case 4: out.reverse(); break;
    default: out.length = rng.int(out.length + 1); break;
  }
  return out;
}

function run(rng: Rng): void {
  const f = state.fixture!;
  const a = rng.int(SIZE + 1);
  const b = rng.range(a, SIZE);
  const headMsg = headToWire(f.heads[b]!) as unknown as Record<string, unknown>;
  const proofMsg = { hashes: f.log.consistencyProof(a, b) };
  const spoil = rng.pick(['head', 'proof', 'both'] as const);
  const identity = <T>(m: Record<string, unknown>, de: (x: Buffer) => T, ser: (m: never) => Buffer): { decoded: T; input: string } => ({ decoded: de(ser(m as never)), input: '' });
  const h = spoil === 'proof' ? identity(headMsg, svc.GetTreeHead.responseDeserialize, svc.GetTreeHead.responseSerialize) : roundTrip(rng, headMsg, svc.GetTreeHead.responseSerialize, svc.GetTreeHead.responseDeserialize);
  const p = spoil === 'head' ? identity(proofMsg, svc.GetConsistencyProof.responseDeserialize, svc.GetConsistencyProof.responseSerialize)
    : rng.chance(0.5) ? identity({ hashes: spoilProof(rng, f, proofMsg.hashes) }, svc.GetConsistencyProof.responseDeserialize, svc.GetConsistencyProof.responseSerialize)
      : roundTrip(rng, proofMsg, svc.GetConsistencyProof.responseSerialize, svc.GetConsistencyProof.responseDeserialize);
  if (h === undefined || p === undefined) return;
  const input = JSON.stringify({ accepted: a, head: h.input || 'intact', proof: p.input || 'intact' });
  const head = guarded('headFromWire', input, () => headFromWire(h.decoded));
  const proof = p.decoded.hashes;
  if (guarded('checkTreeHead', input, () => checkTreeHead(f.anchors, head)) !== undefined) return;
  same(plain(headToWire(head)), plain(h.decoded), 'head-canonical', input);
  check(head.treeSize <= SIZE && head.rootHash === f.log.rootHash(head.treeSize), 'head-root', `accepted head ${head.treeSize}/${head.rootHash} is not the log's root at that size`, input);
  const older = f.heads[a]!;
  if (guarded('checkConsistency', input, () => checkConsistency(older, head, proof)) === undefined) {
    same(proof, f.log.consistencyProof(a, head.treeSize), 'proof-unique', input);
  }
  if (guarded('checkPeerHead', input, () => checkPeerHead(f.anchors, older, head, proof)) === undefined) {
    same(proof, f.log.consistencyProof(a, head.treeSize), 'proof-unique', input);
  }
}

/** The tree-head target. */
export const headsTarget: FuzzTarget = {
  name: 'heads',
  description: 'SignedTreeHead and consistency Proof bytes → headFromWire → checkTreeHead/checkConsistency/checkPeerHead: accepted heads are the signed message, accepted proofs the log\'s own',
  setup: () => {
    state.fixture = buildFixture();
    return Promise.resolve();
  },
  run,
};
