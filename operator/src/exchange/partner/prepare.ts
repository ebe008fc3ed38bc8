/**
 * The partner exchange's start, split by what needs leadership
 * (docs/adr/2026-12-07-exchange-start-across-terms.md).
 *
 * Invariants:
 * - Preparing reads and writes only this partner's own database, idempotently: the connection,
 *   the replica store's indexes and its set of stored digests (MongoIndicatorSink.open, a scan of
 *   every record when the set was never persisted), and the naming of records stored without
 *   their object name. None of it trusts the sequencer or a peer, and none of it is a leader's
 *   decision, so it needs no leadership and is kept for the life of the process: a Lease lost
 *   while a step runs does not cancel it, and the next term (in the same process, cli/terms.ts),
 *   like the next attempt after a failure, joins the step under way or takes its result.
 * - A step that fails is forgotten and run again by the next call; the steps that finished stay.
 * - Only the loops (replication, votes, gossip...) are a leader's, started per term by
 *   startPartnerService on the prepared stores.
 * - The step under way is what readiness names (`partner exchange starting: waiting on ...`), and
 *   a step that takes longer than `slowStepMs` is logged, with how long, every `slowStepMs`.
 * - A standby prepares at process start ({@link ExchangePreparation.standBy}), while another
 *   replica leads and writes the same database, only what is safe beside that writer: the
 *   connection, the indexes, and the stored digests read from their chunks. The passes that end
 *   with a marker saying something of every writer (the digest backfill's "complete", the naming
 *   pass's "every record named") are the term's: an older leader may still write records without
 *   chunks or names (docs/adr/2026-12-07-standby-preparation.md).
 * - Each term brings the prepared digest set up to date (`stored digests written by others`)
 *   before its exchange starts: another replica may have led and written since it was read.
 */
import type { Db, MongoClient } from 'mongodb';
import type { Logger } from '../../log.ts';
import { monotonicNow, systemClock, type Clock, type TimerHandle } from '../../runtime/clock.ts';
import { closeMongo, mongoClient } from '../../store/connect.ts';
import { MongoIndicatorSink } from '../../store/indicators.ts';
import { nameUnnamedRecords } from '../../store/indicatornames.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';

/** The step of the start under way, and for how long it has been. */
export interface StartStep {
  readonly step: string;
  readonly forMs: number;
}

/** How readiness says what a start waits on. */
export function describeStep(s: StartStep): string {
  return `waiting on "${s.step}" for ${Math.round(s.forMs / 1000)} s`;
}

/** The start's steps: which runs now, each logged when done, a slow one logged while it lasts. */
export class StartSteps {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #slowMs: number;
  #current: { step: string; since: number } | undefined;
  #timer: TimerHandle | undefined;

  /** @param slowMs @default PARTNER_DEFAULTS.slowSyncMs */
  constructor(log: Logger, clock: Clock = systemClock, slowMs: number = PARTNER_DEFAULTS.slowSyncMs) {
    this.#log = log;
    this.#clock = clock;
    this.#slowMs = slowMs;
  }

  /** Runs `fn` as step `step` (it may name its own sub-steps with {@link enter}). */
  async run<T>(step: string, fn: () => Promise<T>): Promise<T> {
    this.enter(step);
    try {
      const out = await fn();
      this.#done();
      return out;
    } catch (err) {
      this.#done(err);
      throw err;
    }
  }

  /** The step under way is now `step` (the previous one is done). */
  enter(step: string): void {
    if (this.#current?.step === step) return;
    this.#done();
    this.#current = { step, since: monotonicNow(this.#clock) };
    this.#watch();
  }

  /** The step under way, if any. */
  current(): StartStep | undefined {
    const c = this.#current;
    return c === undefined ? undefined : { step: c.step, forMs: monotonicNow(this.#clock) - c.since };
  }

  // A failed step is logged by whoever retries it (startup.ts), with its cause.
  #done(failed?: unknown): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const c = this.current();
    this.#current = undefined;
    if (c === undefined) return;
    if (failed === undefined) this.#log.info('partner exchange start step done', { step: c.step, ms: Math.round(c.forMs) });
    else this.#log.info('partner exchange start step failed', { step: c.step, ms: Math.round(c.forMs) });
  }

  #watch(): void {
    this.#timer = this.#clock.setTimer(() => {
      const c = this.current();
      if (c === undefined) return;
      this.#log.warn('partner exchange start slow: waiting on one step', { step: c.step, waitedMs: Math.round(c.forMs) });
      this.#watch();
    }, this.#slowMs);
  }
}

/** How far {@link ExchangePreparation.standBy} got. */
interface StandbyPreparation {
  readonly since: number;
  state: 'preparing' | 'prepared' | 'failed';
  why?: string;
}

/** What a term's exchange starts on. */
export interface PreparedStores {
  readonly db: Db;
  readonly sink: MongoIndicatorSink;
}

/** Options of {@link ExchangePreparation}. */
export interface PreparationOptions {
  readonly uri: string;
  readonly database: string;
  readonly log: Logger;
  /** Newest log positions whose record states the sink keeps (MongoIndicatorSink SinkOptions). @default PARTNER_DEFAULTS.materializeBudget × 1.25 */
  readonly recentPositions?: number;
  readonly clock?: Clock;
  /** A step running longer than this is logged, and again every as long. @default PARTNER_DEFAULTS.slowSyncMs */
  readonly slowStepMs?: number;
}

/** The leadership-free part of the exchange's start, kept for the process (see the file header). */
export class ExchangePreparation {
  /** The steps, shared with the term's own (the gossip endpoint): readiness names the one under way. */
  readonly steps: StartSteps;
  readonly #o: PreparationOptions;
  #client: Promise<MongoClient> | undefined;
  #sink: Promise<MongoIndicatorSink> | undefined;
  #named: Promise<void> | undefined;
  // The last term's catch-up of the digest set (a later term waits for it, then runs its own).
  #caughtUp: { readonly term: object; readonly done: Promise<void> } | undefined;
  #standby: StandbyPreparation | undefined;
  // The term whose start opened the sink (undefined: the standby's did).
  #openedBy: object | undefined;

  constructor(o: PreparationOptions) {
    this.#o = o;
    this.steps = new StartSteps(o.log, o.clock, o.slowStepMs);
  }

  /**
   * The prepared stores: joins the step under way and runs the ones not done; rejects with a
   * step's error (the next call runs that step again) or, when `signal` aborts, at once while
   * the step goes on for the next term.
   */
  ready(signal: AbortSignal, term: object = {}): Promise<PreparedStores> {
    const work = this.#forTerm(term);
    return new Promise<PreparedStores>((resolve, reject) => {
      const onAbort = (): void => reject(new Error('the partner exchange stopped waiting for its start (its steps go on)'));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /**
   * Prepares, before this process leads, what is safe beside another replica's writes (see the
   * file header), so a failover runs only what needs leadership; logged when done, and told by
   * {@link standbyState}. A failed step is left to the term (its start runs it again). Returns
   * when done or failed; never rejects.
   */
  async standBy(): Promise<void> {
    if (this.#standby !== undefined) return;
    const clock = this.#o.clock ?? systemClock;
    const standby: StandbyPreparation = { since: monotonicNow(clock), state: 'preparing' };
    this.#standby = standby;
    this.#o.log.info('preparing the partner exchange while standing by (connection, indexes, stored digests)');
    try {
      const { sink } = await this.#prepare(undefined);
      standby.state = 'prepared';
      this.#o.log.info('partner exchange prepared while standing by', { ms: Math.round(monotonicNow(clock) - standby.since), digestsComplete: sink.complete });
    } catch (err) {
      standby.state = 'failed';
      standby.why = err instanceof Error ? err.message : String(err);
      this.#o.log.warn('could not prepare the partner exchange while standing by; the first term prepares it', { error: standby.why });
    }
  }

  /** Readiness of {@link standBy}: true once prepared (or never asked), else what it waits on or why it failed. */
  standbyState(): true | string {
    const s = this.#standby;
    if (s === undefined || s.state === 'prepared') return true;
    if (s.state === 'failed') return `partner exchange not prepared while standing by (${s.why ?? 'failed'}); the first term prepares it`;
    const step = this.steps.current();
    return `partner exchange preparing while standing by${step === undefined ? '' : `: ${describeStep(step)}`}`;
  }

  async #forTerm(term: object): Promise<PreparedStores> {
    const stores = await this.#prepare(term);
    // A set this term opened (as the writer) is current; any other is caught up by each term
    // once, after the previous term's catch-up (joined when still under way).
    if (this.#openedBy === term && this.#caughtUp === undefined) this.#caughtUp = { term, done: Promise.resolve() };
    if (this.#caughtUp?.term !== term) {
      const before = this.#caughtUp?.done.catch(() => undefined);
      const done: Promise<void> = forgetOnFailure((async () => {
        await before;
        await this.steps.run(CATCH_UP, () => stores.sink.catchUp((s) => this.steps.enter(s)));
      })(), () => { if (this.#caughtUp?.done === done) this.#caughtUp = undefined; });
      this.#caughtUp = { term, done };
    }
    await this.#caughtUp.done;
    if (this.#named === undefined) this.#named = this.#name(stores.db);
    return stores;
  }

  // `term`: a term's start (the sink opened as the only writer); undefined: a standby's.
  async #prepare(term: object | undefined): Promise<PreparedStores> {
    const client = await (this.#client ??= forgetOnFailure(this.steps.run('database connection', () => this.#connect()), () => { this.#client = undefined; }));
    const db = client.db(this.#o.database);
    const recentPositions = this.#o.recentPositions ?? Math.ceil(PARTNER_DEFAULTS.materializeBudget * 1.25);
    if (this.#sink === undefined) {
      this.#openedBy = term;
      this.#sink = forgetOnFailure(this.steps.run('replica indexes', () => MongoIndicatorSink.open(db, { recentPositions, leading: term !== undefined, onStep: (s) => this.steps.enter(s) })), () => { this.#sink = undefined; });
    }
    return { db, sink: await this.#sink };
  }

  async #connect(): Promise<MongoClient> {
    const client = mongoClient(this.#o.uri);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  // Records stored before they carried a name get one, beside the exchange (a scan on FerretDB); a failure is tried again by the next start.
  #name(db: Db): Promise<void> {
    const t0 = monotonicNow(this.#o.clock ?? systemClock);
    return nameUnnamedRecords(db).then(
      (named) => { if (named > 0) this.#o.log.info('named records stored without their object name', { named, ms: Math.round(monotonicNow(this.#o.clock ?? systemClock) - t0) }); },
      (err: unknown) => {
        this.#named = undefined;
        this.#o.log.warn('could not name records stored without their object name; the next start tries again', { error: String(err) });
      },
    );
  }

  /** Closes the database client and forgets what was prepared: after an interrupted stop, whose database calls it cuts. */
  async discard(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#sink = undefined;
    this.#named = undefined;
    this.#caughtUp = undefined;
    await client?.then((c) => c.close(), () => undefined).catch(() => undefined);
  }

  /** At the end of the process: closes the database client within `ms`. */
  async close(ms: number): Promise<void> {
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    this.#sink = undefined;
    if (client !== undefined) await closeMongo(client, ms, this.#o.log);
  }
}

/** The step of each term's start that brings the prepared digest set up to date. */
export const CATCH_UP = 'stored digests written by others';

function forgetOnFailure<T>(p: Promise<T>, forget: () => void): Promise<T> {
  p.catch(forget);
  return p;
}

/** Opens the replica store and names unnamed records beside it (logged, never thrown), for an exchange started without a preparation (tests). */
export async function openStoresAlone(db: Db, recentPositions: number, log: Logger): Promise<MongoIndicatorSink> {
  const sink = await MongoIndicatorSink.open(db, { recentPositions });
  void nameUnnamedRecords(db).then(
    (named) => { if (named > 0) log.info('named records stored without their object name', { named }); },
    (err: unknown) => log.warn('could not name records stored without their object name; the next start tries again', { error: String(err) }),
  );
  return sink;
}
