/**
 * The exchange's decoders (exchange/protocol/wire.ts and the sequencer behind them), from bytes:
 * - proposals: a signed Proposal message, mutated as fields or as bytes, decoded with the
 *   service's own deserializer and handed to a real Sequencer (memory stores);
 * - votes: a signed vote on an open round, mutated the same way, decoded and counted;
 * - entries: a LogEntry of a small real log (signed proposals, quorum certificates, signed head,
 *   inclusion proofs), mutated, decoded (entryFromWire) and verified as a partner does.
 * Properties: nothing throws except a typed refusal; whatever is accepted is exactly what the
 * canonical encoding of the accepted value reproduces (no field carried, ignored or rewritten
 * silently), and an accepted entry has the leaf hash of the original.
 */
import { Writable } from 'node:stream';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { entryLeafData, entryLeafHash, metaJson, parseIndicatorJson, signProposal, voteSubject, type EntryKind, type IndexedEntry, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { MerkleLog } from '../../operator/src/domain/merkle.ts';
import { signVote, type PartnerRole, type Vote, type Voter } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signLogHead, type SignedTreeHead } from '../../operator/src/domain/treehead.ts';
import type { TrustAnchors } from '../../operator/src/domain/verify.ts';
import { EntryVerifier } from '../../operator/src/exchange/partner/verifier.ts';
import { ExchangeRefusal } from '../../operator/src/exchange/protocol/errors.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { entryFromWire, entryToWire, kindFromWire, kindToWire, voteFromWire, voteToWire, voteWireProblem } from '../../operator/src/exchange/protocol/wire.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { createLogger } from '../../operator/src/log.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { mutate, mutateBytes } from '../mutate.ts';
import { Rng } from '../rng.ts';
import { check, Finding, same, type FuzzTarget } from '../target.ts';
import { genMeta, JSON_TOKENS } from './canonical.ts';
import { validateMeta } from '../../operator/src/domain/entry.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const IDS = ['alpha', 'bravo', 'charlie'] as const;
const ROLES: PartnerRole[] = ['contributor', 'voter'];
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const FIELD_TOKENS = [...JSON_TOKENS, 'alpha', 'bravo', 'ADD', 'REVOKE', 'approve', 'reject', '=', '+', '/', 'Z', '.000', '+00:00', '2026-12-01T00:00:00.000Z'];

interface Keys { readonly keys: Record<string, SigningKey>; readonly partners: Voter[] }

function makeKeys(): Keys {
  const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()]));
  return { keys, partners: IDS.map((id) => ({ partnerId: id, publicKey: keys[id]!.publicKey, roles: ROLES })) };
}

/** Plain data of a decoded message (protobuf objects carry prototypes that deep equality would compare). */
export function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

/** Mutates one string or boolean field of `msg`, or returns undefined to ask for a byte-level mutation. */
function mutateField(rng: Rng, msg: Record<string, unknown>): void {
  const fields = Object.keys(msg).filter((k) => typeof msg[k] === 'string' || typeof msg[k] === 'boolean' || typeof msg[k] === 'number');
  const k = rng.pick(fields);
  const v = msg[k];
  if (typeof v === 'boolean') msg[k] = !v;
  else if (typeof v === 'number') msg[k] = rng.pick([0, 1, v + 1, v - 1, 2 ** 32, 2 ** 53]);
  else msg[k] = rng.chance(0.1) ? '' : mutate(rng, String(v), FIELD_TOKENS, 2);
}

const svc = loadExchangePackage().Exchange.service;

/** Encodes, mutates (fields or bytes) and decodes a message; undefined when the bytes no longer decode. */
export function roundTrip<T>(rng: Rng, msg: Record<string, unknown>, ser: (m: never) => Buffer, de: (b: Buffer) => T): { decoded: T; input: string } | undefined {
  let bytes: Buffer;
  if (rng.chance(0.6)) {
    const copy = structuredClone(msg);
    for (let n = 1 + rng.small(2); n > 0; n--) mutateField(rng, copy);
    bytes = ser(copy as never);
  } else {
    bytes = rng.chance(0.1) ? ser(msg as never) : mutateBytes(rng, ser(msg as never));
  }
  try {
    return { decoded: de(bytes), input: bytes.toString('base64') };
  } catch {
    return undefined;
  }
}

function indicatorOf(rng: Rng, n: number): Indicator {
  return rng.chance(0.5) ? { type: 'domain', value: `v${n}.example` } : { type: 'ipv4', value: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
}

function metaOf(rng: Rng): IndicatorMeta | undefined {
  if (rng.chance(0.5)) return undefined;
  const m = validateMeta(genMeta(rng));
  return typeof m === 'string' ? { tlp: 'green' } : m;
}

// ---------------------------------------------------------------- proposals and votes

interface SeqState { seq: Sequencer; uses: number; serial: number }

function seqTarget(): { k: Keys; state: () => Promise<SeqState> } {
  const k = makeKeys();
  let s: SeqState | undefined;
  return {
    k,
    state: async () => {
      if (s === undefined || s.uses++ > 2000) {
        s = { seq: await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: SigningKey.generate(), partners: k.partners, quorum: 3, now: () => new Date(T0), log: quiet }), uses: 0, serial: 0 };
      }
      return s;
    },
  };
}

function refusedOnly(err: unknown, input: string): void {
  if (!(err instanceof ExchangeRefusal)) throw new Finding('crash', err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err), input);
}

const proposals = seqTarget();

async function proposalCase(rng: Rng): Promise<void> {
  const s = await proposals.state();
  const by = rng.pick(IDS);
  const ind = indicatorOf(rng, s.serial++);
  const kind: EntryKind = rng.chance(0.9) ? 'add' : 'revoke';
  const meta = kind === 'add' ? metaOf(rng) : undefined;
  const msg = { kind: kindToWire(kind), indicatorJson: indicatorCanonicalJson(ind), metaJson: metaJson(meta), proposerId: by, signature: signProposal(proposals.k.keys[by]!, kind, ind, meta) };
  const rt = roundTrip(rng, msg, svc.Propose.requestSerialize, svc.Propose.requestDeserialize);
  if (rt === undefined) return;
  const req = rt.decoded;
  const k = kindFromWire(req.kind);
  if (k === undefined) return;
  let r;
  try {
    r = await s.seq.propose(by, { kind: k, indicatorJson: req.indicatorJson, metaJson: req.metaJson, proposerId: req.proposerId, signature: req.signature });
  } catch (err) {
    refusedOnly(err, rt.input);
    return;
  }
  const parsed = parseIndicatorJson(req.indicatorJson);
  check(parsed.ok && indicatorCanonicalJson(parsed.indicator) === req.indicatorJson, 'proposal-canonical', `accepted (${r.status}) an indicator JSON its canonical form does not reproduce: ${req.indicatorJson}`, rt.input);
  if (r.status !== 'opened') return;
  const round = s.seq.pending().find((p) => p.subject === r.subject);
  check(round !== undefined, 'proposal-round', 'opened round is not pending', rt.input);
  same(plain({ kind: kindToWire(round.kind), indicatorJson: round.indicatorJson, metaJson: metaJson(round.meta), proposerId: round.proposerId, signature: round.signature }), plain({ kind: req.kind, indicatorJson: req.indicatorJson, metaJson: req.metaJson, proposerId: req.proposerId, signature: req.signature }), 'proposal-canonical', rt.input);
}

const votes = seqTarget();
// The round a vote case votes on is the setting, not what is fuzzed: its indicators repeat from one
// sequencer to the next (serials 0..2001, two types), and Ed25519 signatures are deterministic, so
// each proposal is signed once per worker. The sequencer still verifies every one.
const signedProposals = new Map<string, string>();

function proposalSignature(json: string, ind: Indicator): string {
  let sig = signedProposals.get(json);
  if (sig === undefined) {
    sig = signProposal(votes.k.keys['alpha']!, 'add', ind);
    signedProposals.set(json, sig);
  }
  return sig;
}

async function voteCase(rng: Rng): Promise<void> {
  const s = await votes.state();
  const ind = indicatorOf(rng, s.serial++);
  const json = indicatorCanonicalJson(ind);
  const opened = await s.seq.propose('alpha', { kind: 'add', indicatorJson: json, proposerId: 'alpha', signature: proposalSignature(json, ind) });
  const by = rng.pick(IDS);
  const reason = rng.chance(0.3) ? rng.pick(['seen in our logs', '', 'ü', 'x'.repeat(1025)]) : undefined;
  const signedAt = new Date(T0 + rng.pick([0, -1, -60_000, -61_000, 3_600_000])).toISOString();
  let vote: Vote;
  try {
    vote = signVote(votes.k.keys[by]!, { partnerId: by, digest: opened.subject, decision: rng.chance(0.8) ? 'approve' : 'reject', signedAt, ...(reason !== undefined ? { reason } : {}) });
  } catch {
    return;
  }
  const rt = roundTrip(rng, voteToWire(vote) as unknown as Record<string, unknown>, svc.Vote.requestSerialize, svc.Vote.requestDeserialize);
  if (rt === undefined) return;
  // As the sequencer's endpoint decodes a vote (server.ts voteOne): malformed wire votes are refused first.
  if (voteWireProblem(rt.decoded) !== undefined) return;
  let r;
  try {
    r = await s.seq.vote(by, voteFromWire(rt.decoded));
  } catch (err) {
    refusedOnly(err, rt.input);
    return;
  }
  same(plain(voteToWire(voteFromWire(rt.decoded))), plain(rt.decoded), `vote-canonical (${r.status})`, rt.input);
}

// ---------------------------------------------------------------- entries

interface LogFixture { readonly anchors: TrustAnchors; readonly head: SignedTreeHead; readonly entries: IndexedEntry[]; readonly proofs: string[][] }

function buildLog(rng: Rng, k: Keys, seq: SigningKey): LogFixture {
  const log = new MerkleLog();
  const entries: IndexedEntry[] = [];
  const window = { opensAt: new Date(T0 - 60_000).toISOString(), closesAt: new Date(T0 + 72 * 3_600_000).toISOString() };
  for (let i = 0; i < 8; i++) {
    const revoke = i === 7;
    const ind = revoke ? entries[0]!.indicator : indicatorOf(rng, i);
    const kind: EntryKind = revoke ? 'revoke' : 'add';
    const meta = revoke ? undefined : metaOf(rng);
    const subject = voteSubject(kind, indicatorDigest(ind));
    const vs = IDS.slice(0, 2 + (i % 2)).map((id, j) => signVote(k.keys[id]!, { partnerId: id, digest: subject, decision: 'approve', signedAt: new Date(T0 + 1000 * (i + j)).toISOString(), ...(j === 1 && i % 3 === 0 ? { reason: 'corroborated' } : {}) }));
    const e: IndexedEntry = { index: i, kind, indicator: ind, ...(meta !== undefined ? { meta } : {}), proposerId: 'alpha', proposalSignature: signProposal(k.keys['alpha']!, kind, ind, meta), window, votes: vs };
    log.append(entryLeafData(e));
    entries.push(e);
  }
  const head = signLogHead(seq, log, new Date(T0 + 3_600_000));
  return { anchors: { sequencerKey: seq.publicKey, partners: k.partners, quorum: 2 }, head, entries, proofs: entries.map((e) => log.inclusionProof(e.index)) };
}

let fixture: LogFixture | undefined;

async function entryCase(rng: Rng): Promise<void> {
  const f = fixture!;
  const j = rng.int(f.entries.length);
  const original = f.entries[j]!;
  const rt = roundTrip(rng, entryToWire(original, f.proofs[j]!) as unknown as Record<string, unknown>, svc.StreamEntries.responseSerialize, svc.StreamEntries.responseDeserialize);
  if (rt === undefined) return;
  const m = rt.decoded;
  const decoded = entryFromWire(m);
  const batch = await new EntryVerifier({ anchors: f.anchors, head: f.head, accepted: undefined, from: m.index }).verify([decoded]);
  if (batch.violation !== undefined || batch.entries.length === 0 || !decoded.ok) return;
  same(entryLeafHash(decoded.entry), entryLeafHash(original), 'entry-leaf', rt.input);
  same(plain(entryToWire(decoded.entry, decoded.proof)), plain(m), 'entry-canonical', rt.input);
}

function setupEntries(): Promise<void> {
  const k = makeKeys();
  // Fixed keys per worker are fine: the log's content (values, metadata) still comes from a fixed seed.
  fixture = buildLog(new Rng(1, 2, 3, 4), k, SigningKey.generate());
  return Promise.resolve();
}

/** Proposals target. */
export const proposalsTarget: FuzzTarget = { name: 'proposals', description: 'Proposal bytes → deserializer → Sequencer.propose: typed refusals only; accepted proposals are canonical', run: proposalCase };
/** Votes target. */
export const votesTarget: FuzzTarget = { name: 'votes', description: 'SignedVote bytes → voteFromWire → Sequencer.vote: typed refusals only; accepted votes re-encode to the same message', run: voteCase };
/** Entries target. */
export const entriesTarget: FuzzTarget = { name: 'entries', description: 'LogEntry bytes → entryFromWire → EntryVerifier: accepted entries re-encode to the same message and leaf', setup: setupEntries, run: entryCase };
