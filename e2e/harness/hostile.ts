/**
 * A log under an attacker's control, for trust-model tests: any entries the test appends (their
 * signatures genuine or not), validly signed tree heads and proofs over them, served by the
 * real exchange endpoint (it implements the endpoint's SequencerCore). It accepts no proposals
 * or votes, and can refuse consistency proofs.
 */
import { entryLeafHash, type EntryBody, type IndexedEntry } from '../../operator/src/domain/entry.ts';
import { MerkleLog } from '../../operator/src/domain/merkle.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signLogHead, type SignedTreeHead } from '../../operator/src/domain/treehead.ts';
import type { ProvenEntry } from '../../operator/src/exchange/protocol/messages.ts';
import type { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import type { SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';

/** See the module comment. */
export class HostileLog implements SequencerCore {
  /** The log key: partners anchor on its public key; {@link rotate} replaces it. */
  key: SigningKey;
  readonly #tree = new MerkleLog();
  readonly #entries: IndexedEntry[] = [];
  /** The time tree heads are signed at. @default the real time at each head */
  now: Date | undefined;
  /** Refuse every consistency proof. */
  refuseProofs = false;

  constructor(key: SigningKey = SigningKey.generate()) {
    this.key = key;
  }

  /** Signs every later head with `key` (a tree-head key rotation, or a stolen key). */
  rotate(key: SigningKey): void {
    this.key = key;
  }

  /** Appends entries at the next indexes. */
  append(...bodies: EntryBody[]): void {
    for (const b of bodies) {
      const entry = { ...b, index: this.#entries.length };
      this.#entries.push(entry);
      this.#tree.appendLeafHash(entryLeafHash(entry));
    }
  }

  treeHead(): Promise<SignedTreeHead> {
    return Promise.resolve(signLogHead(this.key, this.#tree, this.now ?? new Date()));
  }

  waitForSize(): Promise<void> {
    return Promise.resolve();
  }

  inclusionProof(i: number, size: number): string[] {
    return this.#tree.inclusionProof(i, size);
  }

  consistencyProof(a: number, b: number): string[] {
    if (this.refuseProofs) throw new Error('consistency proofs are not available');
    return this.#tree.consistencyProof(a, b);
  }

  async *entries(from: number, size: number): AsyncGenerator<ProvenEntry> {
    for (const entry of this.#entries.slice(from, size)) yield await Promise.resolve({ entry, proof: this.#tree.inclusionProof(entry.index, size) });
  }

  pending(): ReturnType<Sequencer['pending']> {
    return [];
  }

  propose(): ReturnType<Sequencer['propose']> {
    return Promise.reject(new Error('this log accepts no proposals'));
  }

  vote(): ReturnType<Sequencer['vote']> {
    return Promise.reject(new Error('this log accepts no votes'));
  }
}
