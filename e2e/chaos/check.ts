/**
 * What "nothing is lost" means after a trial, read straight from the parts (never through the
 * links the faults cut): the sequencer's log and open rounds in its MongoDB, each partner's
 * replica (cursor, halt, indicator records) in its MongoDB and its ThreatIndicators through its
 * kube-apiserver. Counts: `lost` (an expected admission or approved revocation missing from the
 * log, a record or an object missing at a partner), `duplicated` (an indicator admitted twice
 * without a revocation between, a record or object more than once), `diverged` (a partner at
 * another tree size or root than the sequencer, or a record or object that says something else
 * than the log).
 */
import { MongoClient } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { NETWORK_NAMESPACE } from '../../operator/src/dev/sandbox/network.ts';
import { ApiError } from '../../operator/src/runtime/client.ts';
import type { ChaosNetwork, ChaosParty } from './network.ts';

/** What the trial expects at the end. */
export interface Expectation {
  /** Every indicator the trial's feeds carried, by digest. */
  readonly indicators: ReadonlyMap<string, Indicator>;
  /** Digests whose revocation got a quorum of acknowledged approvals. */
  readonly revoked: ReadonlySet<string>;
}

/** The sequencer's head and open rounds: small collections, cheap to read while waiting. */
export interface SequencerHead {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly pending: number;
}

/** The sequencer as its database holds it. */
export interface SequencerState extends SequencerHead {
  /** Log entries of the expected digests, in log order. */
  readonly entries: ReadonlyArray<{ index: number; digest: string; kind: 'add' | 'revoke' }>;
}

/** A partner's replica cursor: one document, cheap to read while waiting. */
export interface PartnerCursor {
  readonly id: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly nextIndex: number;
  readonly halted?: { reason: string; message: string };
}

/** One partner as its database holds it. */
export interface PartnerState extends PartnerCursor {
  readonly records: ReadonlyArray<{ digest: string; state: string; logIndex: number; revokedAtIndex?: number }>;
}

/** The counts and what each counted item was. */
export interface Verdict {
  lost: number;
  duplicated: number;
  diverged: number;
  readonly problems: string[];
  readonly halts: string[];
}

async function withMongo<T>(uri: string, fn: (c: MongoClient) => Promise<T>): Promise<T> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

async function readHead(c: MongoClient): Promise<SequencerHead> {
  const db = c.db('threatmesh_sequencer');
  const head = await db.collection<{ treeSize: number; rootHash: string }>('tree_heads').find({}).sort({ treeSize: -1 }).limit(1).next();
  const pending = await db.collection('pending_rounds').countDocuments({});
  return { treeSize: head?.treeSize ?? 0, rootHash: head?.rootHash ?? '', pending };
}

/** Reads the sequencer's head and open rounds. */
export function sequencerHead(net: ChaosNetwork): Promise<SequencerHead> {
  return withMongo(net.sequencer.cluster.mongoUri, readHead);
}

/**
 * Reads the sequencer's head, open rounds and the entries of `digests`. The entries are a scan of
 * the whole log on FerretDB 1.24 (an `$in` is not pushed down): 40–70 s at 18,000 entries on a
 * loaded machine, so a wait reads them only when the cheap reads say it may be over.
 */
export function sequencerState(net: ChaosNetwork, digests: readonly string[]): Promise<SequencerState> {
  return withMongo(net.sequencer.cluster.mongoUri, async (c) => {
    const head = await readHead(c);
    const entries = await c.db('threatmesh_sequencer').collection<{ index: number; digest: string; kind: 'add' | 'revoke' }>('log_entries')
      .find({ digest: { $in: [...digests] } }, { projection: { _id: 0, index: 1, digest: 1, kind: 1 } }).toArray();
    return { ...head, entries: entries.sort((a, b) => a.index - b.index) };
  });
}

async function readCursor(p: ChaosParty, c: MongoClient): Promise<PartnerCursor> {
  const cursor = await c.db('threatmesh_partner').collection<{ nextIndex: number; head?: { treeSize: number; rootHash: string }; halted?: { reason: string; message: string } }>('replica_cursors').findOne({});
  return {
    id: p.id, treeSize: cursor?.head?.treeSize ?? 0, rootHash: cursor?.head?.rootHash ?? '', nextIndex: cursor?.nextIndex ?? 0,
    ...(cursor?.halted !== undefined ? { halted: { reason: cursor.halted.reason, message: cursor.halted.message } } : {}),
  };
}

/** Reads a partner's cursor and halt. */
export function partnerCursor(p: ChaosParty): Promise<PartnerCursor> {
  return withMongo(p.cluster.mongoUri, (c) => readCursor(p, c));
}

/** Reads a partner's cursor, halt and the records of `digests` (a scan of its records on FerretDB, as {@link sequencerState}'s entries). */
export function partnerState(p: ChaosParty, digests: readonly string[]): Promise<PartnerState> {
  return withMongo(p.cluster.mongoUri, async (c) => {
    const cursor = await readCursor(p, c);
    const records = await c.db('threatmesh_partner').collection<{ digest: string; state: string; logIndex: number; revokedAtIndex?: number }>('indicators')
      .find({ digest: { $in: [...digests] } }, { projection: { _id: 0, digest: 1, state: 1, logIndex: 1, revokedAtIndex: 1 } }).toArray();
    return { ...cursor, records };
  });
}

/** Where each expected digest should end: its ADD index, and its REVOKE index when revoked. */
interface Fate { add?: number; revoke?: number; adds: number }

function fates(seq: Pick<SequencerState, 'entries'>): Map<string, Fate> {
  const out = new Map<string, Fate>();
  for (const e of seq.entries) {
    const f = out.get(e.digest) ?? { adds: 0 };
    if (e.kind === 'add') {
      // A second ADD is a duplicate unless a REVOKE came between (a re-admission).
      if (f.add !== undefined && f.revoke === undefined) f.adds++;
      f.add = e.index;
      f.adds = Math.max(f.adds, 1);
      if (f.revoke !== undefined && f.revoke < e.index) delete f.revoke;
    } else {
      f.revoke = e.index;
    }
    out.set(e.digest, f);
  }
  return out;
}

/** What the cheap reads say is still moving: open rounds, a halted partner, a partner short of the sequencer's head. Empty is necessary for convergence, not sufficient. */
export function behind(seq: SequencerHead, partners: readonly PartnerCursor[]): string[] {
  const waiting: string[] = [];
  if (seq.pending > 0) waiting.push(`${seq.pending} open rounds at the sequencer`);
  for (const p of partners) {
    if (p.halted !== undefined) waiting.push(`${p.id} halted: ${p.halted.reason}`);
    else if (p.treeSize !== seq.treeSize || p.nextIndex !== seq.treeSize) waiting.push(`${p.id} at ${p.nextIndex}/${p.treeSize} of ${seq.treeSize}`);
  }
  return waiting;
}

/** The expectations the log does not hold yet: indicators not admitted, approved revocations not logged. */
export function unlogged(exp: Expectation, seq: Pick<SequencerState, 'entries'>): string[] {
  const waiting: string[] = [];
  const f = fates(seq);
  const missing = [...exp.indicators.keys()].filter((d) => f.get(d)?.add === undefined).length;
  if (missing > 0) waiting.push(`${missing} of ${exp.indicators.size} indicators not admitted`);
  const unrevoked = [...exp.revoked].filter((d) => f.get(d)?.revoke === undefined).length;
  if (unrevoked > 0) waiting.push(`${unrevoked} of ${exp.revoked.size} approved revocations not in the log`);
  return waiting;
}

/** Compares everything once the wait is over (converged or not). */
export async function verdict(net: ChaosNetwork, exp: Expectation, seq: SequencerState, partners: readonly PartnerState[]): Promise<Verdict> {
  const v: Verdict = { lost: 0, duplicated: 0, diverged: 0, problems: [], halts: [] };
  const note = (what: keyof Pick<Verdict, 'lost' | 'duplicated' | 'diverged'>, text: string): void => {
    v[what]++;
    if (v.problems.length < 40) v.problems.push(`${what}: ${text}`);
  };
  const f = fates(seq);
  for (const d of exp.indicators.keys()) {
    const x = f.get(d);
    if (x?.add === undefined) note('lost', `indicator ${d} never admitted`);
    else if (x.adds > 1) note('duplicated', `indicator ${d} admitted ${x.adds} times`);
  }
  for (const d of exp.revoked) if (f.get(d)?.revoke === undefined) note('lost', `revocation of ${d} approved by a quorum of acknowledged votes but not in the log (a vote lost?)`);
  for (const p of partners) {
    if (p.halted !== undefined) v.halts.push(`${p.id}: ${p.halted.reason}: ${p.halted.message}`);
    if (p.treeSize !== seq.treeSize || p.rootHash !== seq.rootHash) note('diverged', `${p.id} at tree size ${p.treeSize} root ${p.rootHash.slice(0, 12)}, the sequencer at ${seq.treeSize} ${seq.rootHash.slice(0, 12)}`);
    checkRecords(p, f, exp, note);
  }
  await Promise.all(net.partners.map((p) => checkObjects(p, f, exp, note)));
  return v;
}

type Note = (what: 'lost' | 'duplicated' | 'diverged', text: string) => void;

function checkRecords(p: PartnerState, f: ReadonlyMap<string, Fate>, exp: Expectation, note: Note): void {
  const seen = new Map<string, number>();
  for (const r of p.records) seen.set(r.digest, (seen.get(r.digest) ?? 0) + 1);
  for (const d of exp.indicators.keys()) {
    const fate = f.get(d);
    if (fate?.add === undefined) continue;
    const n = seen.get(d) ?? 0;
    if (n === 0) { note('lost', `${p.id} has no record of ${d}`); continue; }
    if (n > 1) note('duplicated', `${p.id} has ${n} records of ${d}`);
    const r = p.records.find((x) => x.digest === d)!;
    const want = fate.revoke !== undefined ? 'revoked' : 'active';
    if (r.state !== want || r.logIndex !== fate.add) note('diverged', `${p.id} record of ${d} is ${r.state} at ${r.logIndex}, the log says ${want} at ${fate.add}`);
  }
}

async function checkObjects(p: ChaosParty, f: ReadonlyMap<string, Fate>, exp: Expectation, note: Note): Promise<void> {
  const names = [...exp.indicators].filter(([d]) => f.get(d)?.add !== undefined).map(([d, ind]) => [d, indicatorObjectName(ind)] as const);
  for (let i = 0; i < names.length; i += 50) {
    await Promise.all(names.slice(i, i + 50).map(async ([d, name]) => {
      const fate = f.get(d)!;
      const ti = await p.cluster.client.get<ThreatIndicator>(THREAT_INDICATORS, name, NETWORK_NAMESPACE).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      });
      if (ti === undefined) { note('lost', `${p.id} has no ThreatIndicator ${name}`); return; }
      const want = fate.revoke !== undefined ? 'Revoked' : 'Approved';
      if (ti.status?.phase !== want || ti.status.logIndex !== fate.add) note('diverged', `${p.id} ThreatIndicator ${name} is ${ti.status?.phase ?? 'without phase'} at ${String(ti.status?.logIndex)}, the log says ${want} at ${fate.add}`);
    }));
  }
}
