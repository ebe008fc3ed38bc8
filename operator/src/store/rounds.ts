/**
 * The sequencer's open voting rounds in MongoDB, so a restarted or newly elected sequencer
 * continues them: `pending_rounds` (`_id` = the round's vote subject) and `pending_votes` (one
 * inserted document per counted vote, never an update of the round). Data only: the sequencer
 * re-verifies every proposal and vote it loads.
 *
 * Writes are coalesced: calls made while a write is in flight are queued and flushed together,
 * consecutive calls of one kind as one insertMany/deleteMany, one flush at a time. A sequencer
 * answering a VoteBatch of hundreds of votes thus costs a few round trips, and the database never
 * sees concurrent writers (FerretDB's SQLite backend answers those with SQLITE_BUSY).
 */
import { MongoBulkWriteError, MongoServerError, type Collection, type Db } from 'mongodb';
import type { Vote } from '../domain/quorum.ts';
import { voteRecord } from '../domain/entry.ts';
import type { SequencerRoundStore, StoredRound } from '../domain/stores.ts';
import { GroupCommit } from '../runtime/groupcommit.ts';
import { voteFromRecord } from './log.ts';

/** Collection of open rounds. */
export const PENDING_ROUNDS = 'pending_rounds';
/** Collection of the counted votes of open rounds. */
export const PENDING_VOTES = 'pending_votes';

const DUPLICATE_KEY = 11000;

interface RoundDoc {
  _id: string;
  kind: StoredRound['kind'];
  indicatorJson: string;
  /** The signed metadata's canonical JSON; absent when the proposal carried none. */
  metaJson?: string;
  proposerId: string;
  signature: string;
  /** The batch proposal's proof; absent for a single proposal. */
  batch?: string;
  window: { opensAt: string; closesAt: string };
  /** Votes stored with the round by earlier versions; new votes go to `pending_votes`. */
  votes?: Array<Record<string, string>>;
}

interface VoteDoc {
  /** subject, partner and signing time: a partner's vote in a re-opened round is a new document. */
  _id: string;
  subject: string;
  vote: Record<string, string>;
}

type Op =
  | { readonly kind: 'round'; readonly doc: RoundDoc }
  | { readonly kind: 'vote'; readonly doc: VoteDoc }
  | { readonly kind: 'delete'; readonly subject: string };

interface Queued {
  readonly op: Op;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Runs of consecutive operations of one kind, in arrival order. */
export function runsOf<T extends { readonly op: { readonly kind: string } }>(items: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (const item of items) {
    const last = runs.at(-1);
    if (last !== undefined && last[0]?.op.kind === item.op.kind) last.push(item);
    else runs.push([item]);
  }
  return runs;
}

function onlyDuplicates(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const errors: ReadonlyArray<{ readonly code: number }> = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY);
  }
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/** {@link SequencerRoundStore} over one database. */
export class MongoRoundStore implements SequencerRoundStore {
  readonly #rounds: Collection<RoundDoc>;
  readonly #votes: Collection<VoteDoc>;
  // Let the calls of one batch (a VoteBatch answered with Promise.all) queue up before the first write.
  readonly #writes = new GroupCommit<Queued>(async (items) => {
    for (const run of runsOf(items)) await this.#settle(run);
  }, { gather: true });

  constructor(db: Db) {
    this.#rounds = db.collection<RoundDoc>(PENDING_ROUNDS);
    this.#votes = db.collection<VoteDoc>(PENDING_VOTES);
  }

  /** Every stored round with its votes, oldest window first. */
  async loadRounds(): Promise<StoredRound[]> {
    const [docs, votes] = await Promise.all([this.#rounds.find({}).sort({ 'window.opensAt': 1 }).toArray(), this.#votes.find({}).toArray()]);
    const bySubject = new Map<string, Array<Record<string, string>>>();
    for (const v of votes) bySubject.set(v.subject, [...(bySubject.get(v.subject) ?? []), v.vote]);
    return docs.map((d) => ({
      subject: d._id, kind: d.kind, indicatorJson: String(d.indicatorJson), ...(d.metaJson !== undefined ? { metaJson: String(d.metaJson) } : {}), proposerId: String(d.proposerId), signature: String(d.signature), ...(d.batch !== undefined ? { batch: String(d.batch) } : {}),
      window: { opensAt: String(d.window?.opensAt), closesAt: String(d.window?.closesAt) },
      votes: [...(Array.isArray(d.votes) ? d.votes : []), ...(bySubject.get(d._id) ?? [])].map(voteFromRecord),
    }));
  }

  /** Stores a new round; one already stored under the subject is kept. */
  saveRound(r: StoredRound): Promise<void> {
    return this.#enqueue({ kind: 'round', doc: { _id: r.subject, kind: r.kind, indicatorJson: r.indicatorJson, ...(r.metaJson ? { metaJson: r.metaJson } : {}), proposerId: r.proposerId, signature: r.signature, ...(r.batch !== undefined ? { batch: r.batch } : {}), window: { ...r.window }, votes: r.votes.map(voteRecord) } });
  }

  /** Stores a counted vote of an open round (idempotent). */
  saveVote(subject: string, vote: Vote): Promise<void> {
    return this.#enqueue({ kind: 'vote', doc: { _id: `${subject}/${vote.partnerId}/${vote.signedAt}`, subject, vote: voteRecord(vote) } });
  }

  /** Removes a decided or expired round and its votes. */
  deleteRound(subject: string): Promise<void> {
    return this.#enqueue({ kind: 'delete', subject });
  }

  #enqueue(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#writes.add({ op, resolve, reject }));
  }

  async #settle(run: readonly Queued[]): Promise<void> {
    try {
      await this.#write(run.map((q) => q.op));
      for (const q of run) q.resolve();
    } catch (err) {
      for (const q of run) q.reject(err);
    }
  }

  async #write(ops: readonly Op[]): Promise<void> {
    const first = ops[0];
    if (first === undefined) return;
    if (first.kind === 'delete') {
      const subjects = ops.map((o) => (o.kind === 'delete' ? o.subject : ''));
      await this.#rounds.deleteMany({ _id: { $in: subjects } });
      await this.#votes.deleteMany({ subject: { $in: subjects } });
      return;
    }
    try {
      if (first.kind === 'round') await this.#rounds.insertMany(ops.map((o) => (o.kind === 'round' ? o.doc : undefined)).filter((d) => d !== undefined), { ordered: false });
      else await this.#votes.insertMany(ops.map((o) => (o.kind === 'vote' ? o.doc : undefined)).filter((d) => d !== undefined), { ordered: false });
    } catch (err) {
      // Already stored (a retry, or a round kept under its subject): the rest of the batch went in.
      if (!onlyDuplicates(err)) throw err;
    }
  }
}
