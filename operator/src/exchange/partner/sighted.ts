/**
 * How many parties recently saw each indicator, for the voting policy's sighting corroboration
 * (policy.ts `sightingCorroboration`). The voter judges synchronously, so the counts are kept in
 * memory and reloaded from the partner database at most every `refreshMs`; a failed reload keeps
 * the previous counts (a database hiccup must not turn corroborated rounds into abstentions).
 */
/** Options of {@link SightedParties}. */
export interface SightedPartiesOptions {
  /** Parties per digest that saw it last at or after `since` (store/receivedsightings.ts partiesSince). */
  readonly load: (since: Date) => Promise<Map<string, number>>;
  /** How far back a sighting counts. */
  readonly withinMs: number;
  /** Least time between reloads. @default 60 000 */
  readonly refreshMs?: number;
  readonly now: () => Date;
}

/** See the module doc. */
export class SightedParties {
  readonly #o: SightedPartiesOptions;
  #counts = new Map<string, number>();
  #loadedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: SightedPartiesOptions) {
    this.#o = opts;
  }

  /** Reloads the counts when the last load is older than `refreshMs`; rejects when the load fails. */
  async refresh(): Promise<void> {
    const now = this.#o.now().getTime();
    if (now - this.#loadedAt < (this.#o.refreshMs ?? 60_000)) return;
    this.#counts = await this.#o.load(new Date(now - this.#o.withinMs));
    this.#loadedAt = now;
  }

  /** Parties that saw the indicator within the window, as of the last load; 0 when none. */
  count(digest: string): number {
    return this.#counts.get(digest) ?? 0;
  }
}
