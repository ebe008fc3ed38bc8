/**
 * The corroborated last sighting of every indicator, for one policy's confidence decay
 * (domain/decay.ts): reloaded from the partner database at most every `refreshMs`, and the
 * digests whose time changed since the previous load are handed back so that the selection
 * re-decides only those. Only sightings recent enough to matter are read: one older than the
 * time in which a confidence of 100 decays below the policy's minimum could not keep anything
 * enforced. A failed reload keeps the previous times (a database hiccup must not make every
 * indicator look unsighted) and is reported by the caller.
 */
import { corroboratedLastSeen, decaysBelowAt, type DecayRule } from '../domain/decay.ts';

/** Each digest's parties and the last time (epoch ms) each saw it, for sightings last seen at or after `since`. */
export type LoadSightings = (since: Date) => Promise<ReadonlyMap<string, ReadonlyMap<string, number>>>;

/** Options of {@link SightingClock}. */
export interface SightingClockOptions {
  readonly load: LoadSightings;
  readonly rule: DecayRule;
  readonly minConfidence: number;
  /** Least time between reloads. @default 60000 */
  readonly refreshMs?: number;
}

/** See the module doc. */
export class SightingClock {
  readonly #o: SightingClockOptions;
  #times = new Map<string, number>();
  #loadedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: SightingClockOptions) {
    this.#o = opts;
  }

  /** The corroborated last sighting of `digest` as of the last load (epoch ms), or undefined. */
  lastSeen(digest: string): number | undefined {
    return this.#times.get(digest);
  }

  /** Digests with a corroborated sighting as of the last load. */
  get size(): number {
    return this.#times.size;
  }

  /**
   * Reloads when the last load is `refreshMs` old or more (or `force`); returns the digests
   * whose corroborated last sighting changed, or undefined when it did not reload. Rejects when
   * the load fails (the previous times stay).
   */
  async refresh(now: number, force = false): Promise<string[] | undefined> {
    if (!force && now - this.#loadedAt < (this.#o.refreshMs ?? 60_000)) return undefined;
    const { rule, minConfidence } = this.#o;
    const reach = decaysBelowAt(100, 0, minConfidence, rule);
    const since = Number.isFinite(reach) ? new Date(now - reach) : new Date(0);
    const byParty = await this.#o.load(since);
    const next = new Map<string, number>();
    for (const [digest, parties] of byParty) {
      const t = corroboratedLastSeen(parties.values(), rule.minSightingParties, now);
      if (t !== undefined) next.set(digest, t);
    }
    const changed: string[] = [];
    for (const [digest, t] of next) if (this.#times.get(digest) !== t) changed.push(digest);
    for (const digest of this.#times.keys()) if (!next.has(digest)) changed.push(digest);
    this.#times = next;
    this.#loadedAt = now;
    return changed;
  }
}
