/**
 * A censoring sequencer, for trust-model tests: it runs honest rounds (a real Sequencer decides
 * every proposal and answers every vote truthfully) but the log it signs and serves is its own
 * copy of the real log without the entries the test censors. It holds the log key partners
 * anchor on, so what it serves verifies; only the withheld decisions are missing. It also
 * chooses when voters see a round (a sequencer orders ListPending as it likes), so a test can
 * decide which vote completes a quorum.
 */
import type { IndexedEntry } from '../../operator/src/domain/entry.ts';
import type { SignedTreeHead } from '../../operator/src/domain/treehead.ts';
import type { ProvenEntry } from '../../operator/src/exchange/protocol/messages.ts';
import type { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import type { SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
import { HostileLog } from './hostile.ts';

/** See the module comment. */
export class CensoringSequencer implements SequencerCore {
  readonly inner: Sequencer;
  readonly #log = new HostileLog();
  #mirrored = 0;
  /** Entries of the real log the served log leaves out. @default none */
  censor: (entry: IndexedEntry) => boolean = () => false;
  /** The real entries withheld so far. */
  readonly withheld: IndexedEntry[] = [];
  /** Indicator digests whose rounds ListPending does not show yet. */
  readonly held = new Set<string>();

  constructor(inner: Sequencer) {
    this.inner = inner;
  }

  /** The key partners must anchor on (the served log's). */
  get key(): HostileLog['key'] {
    return this.#log.key;
  }

  // Copies the real log's new entries into the served one, minus the censored ones.
  async #mirror(): Promise<void> {
    for await (const { entry } of this.inner.entries(this.#mirrored, this.inner.size)) {
      this.#mirrored += 1;
      if (this.censor(entry)) {
        this.withheld.push(entry);
        continue;
      }
      const { index: _index, ...body } = entry;
      this.#log.append(body);
    }
  }

  async treeHead(): Promise<SignedTreeHead> {
    await this.#mirror();
    return this.#log.treeHead();
  }

  async waitForSize(minSize: number, waitMs: number): Promise<void> {
    const end = Date.now() + waitMs;
    for (;;) {
      await this.#mirror();
      if ((await this.#log.treeHead()).treeSize >= minSize || Date.now() >= end) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  inclusionProof(i: number, size: number): string[] {
    return this.#log.inclusionProof(i, size);
  }

  consistencyProof(a: number, b: number): string[] {
    return this.#log.consistencyProof(a, b);
  }

  entries(from: number, size: number): AsyncGenerator<ProvenEntry> {
    return this.#log.entries(from, size);
  }

  pending(): ReturnType<Sequencer['pending']> {
    return this.inner.pending().filter((r) => !this.held.has(r.digest));
  }

  propose(...args: Parameters<Sequencer['propose']>): ReturnType<Sequencer['propose']> {
    return this.inner.propose(...args);
  }

  vote(...args: Parameters<Sequencer['vote']>): ReturnType<Sequencer['vote']> {
    return this.inner.vote(...args);
  }
}
