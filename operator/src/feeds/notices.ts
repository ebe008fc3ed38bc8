/**
 * Notices worth giving once per process, not once per Feed run: a steady state the operator
 * cannot change by retrying (the replica API not installed, 404) would otherwise warn on every
 * run. The in-process executor keeps one set for the operator process and hands it to each run's
 * child (controllers/inprocess.ts), since every run is a process of its own; an ingestion Job is
 * one process per run, so it gives each notice once anyway.
 */

/** Whether a notice is news in this process. */
export interface Notices {
  /** True the first time `key` is asked (give the notice as a warning), false after (log it at debug). */
  first(key: string): boolean;
}

/** A {@link Notices} over a set of keys, seeded with those given earlier (by other runs of the same process). */
export class OnceNotices implements Notices {
  readonly #given: Set<string>;
  readonly #now: string[] = [];

  /** @param given keys already given in this process. @default none */
  constructor(given: Iterable<string> = []) {
    this.#given = new Set(given);
  }

  first(key: string): boolean {
    if (this.#given.has(key)) return false;
    this.#given.add(key);
    this.#now.push(key);
    return true;
  }

  /** The keys given through this object (not those it was seeded with). */
  given(): readonly string[] {
    return [...this.#now];
  }
}
