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

  constructor(o: PreparationOptions) {
    this.#o = o;
    this.steps = new StartSteps(o.log, o.clock, o.slowStepMs);
  }

  /**
   * The prepared stores: joins the step under way and runs the ones not done; rejects with a
   * step's error (the next call runs that step again) or, when `signal` aborts, at once while
   * the step goes on for the next term.
   */
  ready(signal: AbortSignal): Promise<PreparedStores> {
    const work = this.#prepare();
    return new Promise<PreparedStores>((resolve, reject) => {
      const onAbort = (): void => reject(new Error('the partner exchange stopped waiting for its start (its steps go on)'));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async #prepare(): Promise<PreparedStores> {
    const client = await (this.#client ??= forgetOnFailure(this.steps.run('database connection', () => this.#connect()), () => { this.#client = undefined; }));
    const db = client.db(this.#o.database);
    const recentPositions = this.#o.recentPositions ?? Math.ceil(PARTNER_DEFAULTS.materializeBudget * 1.25);
    const sink = await (this.#sink ??= forgetOnFailure(this.steps.run('replica indexes', () => MongoIndicatorSink.open(db, { recentPositions, onStep: (s) => this.steps.enter(s) })), () => { this.#sink = undefined; }));
    if (this.#named === undefined) this.#named = this.#name(db);
    return { db, sink };
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
