/**
 * Entry streams served from shared bytes. Every partner follows the same log, so after a new
 * tree head up to every stream asks for the same entries with proofs in the same tree. The
 * honest sequencer's entries never change once appended, so the endpoint encodes each recent
 * entry once (its body: everything but the proof) and each (entry, tree size) message once, and
 * hands the same bytes to every stream. A protobuf message is the concatenation of its fields,
 * so body ++ proof is the message a per-stream encoding would give (fields in another order,
 * which every protobuf decoder accepts).
 *
 * Only cores that vouch for immutability by offering {@link FanoutSource.cachedEntry} are
 * shared; any other core (tests put hostile ones behind the endpoint) is encoded per stream, so
 * a core that tells partners different things is not masked by a cache.
 */
import type { IndexedEntry } from '../../domain/entry.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import type { ProvenEntry } from '../protocol/messages.ts';
import { entryToWire } from '../protocol/wire.ts';

/** One StreamEntries message already encoded; the endpoint's serializer passes its bytes through. */
export class EncodedEntry {
  /** The encoded LogEntry message. */
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
}

/** How much the fan-out keeps. */
export interface FanoutLimits {
  /** Entries this close to a requested tree size are shared; older ones (a partner catching up) are encoded per stream. @default 1024 */
  readonly recentEntries?: number;
  /** Tree sizes whose messages are kept; the smallest is dropped first. @default 4 */
  readonly treeSizes?: number;
}

/** What the fan-out reads: the core's entries and proofs, and (honest cores only) entries held in memory. */
export interface FanoutSource {
  entries(from: number, size: number): AsyncIterable<ProvenEntry>;
  inclusionProof(index: number, size: number): string[];
  /** The entry at `index` when held in memory and immutable; absent on cores whose answers may not be shared. */
  cachedEntry?(index: number): IndexedEntry | undefined;
}

/** Encodes a LogEntry message (the endpoint's StreamEntries serializer). */
export type EntrySerializer = (m: LogEntry) => Buffer;

const DEFAULT_RECENT = 1024;
const DEFAULT_SIZES = 4;

// Small Buffers are slices of Node's shared 8 KiB pool, and a kept slice keeps its whole slab:
// what the fan-out keeps is copied into buffers of its own size.
function unpooled(...parts: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafeSlow(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

/** Shared encodings of recent entries, bounded by {@link FanoutLimits}. One per endpoint. */
export class EntryFanout {
  readonly #serialize: EntrySerializer;
  readonly #recent: number;
  readonly #sizes: number;
  // index → encoded body (every field but the proof), for indexes near the newest size asked.
  readonly #bodies = new Map<number, Buffer>();
  // tree size → index → encoded message.
  readonly #messages = new Map<number, Map<number, EncodedEntry>>();
  #newest = 0;
  #encoded = 0;
  #shared = 0;

  constructor(serialize: EntrySerializer, limits: FanoutLimits = {}) {
    this.#serialize = serialize;
    this.#recent = limits.recentEntries ?? DEFAULT_RECENT;
    this.#sizes = limits.treeSizes ?? DEFAULT_SIZES;
  }

  /** Messages encoded, and messages handed out again from the shared bytes. */
  stats(): { encoded: number; shared: number; bodies: number; treeSizes: number } {
    return { encoded: this.#encoded, shared: this.#shared, bodies: this.#bodies.size, treeSizes: this.#messages.size };
  }

  /**
   * The StreamEntries messages of [from, to) with proofs in the tree of `size` leaves: shared
   * bytes where the source holds the entry in memory and it is recent, the source's own entries
   * (encoded per stream) elsewhere.
   */
  async *stream(source: FanoutSource, from: number, to: number, size: number): AsyncGenerator<EncodedEntry | LogEntry> {
    let next = from;
    while (next < to) {
      const shared = this.#message(source, next, size);
      if (shared !== undefined) {
        yield shared;
        next += 1;
        continue;
      }
      const before = next;
      for await (const { entry, proof } of source.entries(next, size)) {
        if (entry.index >= to) return;
        yield entryToWire(entry, proof);
        next = entry.index + 1;
        // From here on the entries are in memory: leave the store read for the shared bytes.
        if (this.#shareable(source, next, size)) break;
      }
      if (next === before) return;
    }
  }

  /**
   * The shared messages of [from, to) in the tree of `size` when every one of them can be shared
   * (the source vouches for them and they are recent), else undefined. A stream at the head asks
   * for such a range: its batches can then be built once for every stream (batches.ts SharedBatches).
   */
  sharedRange(source: FanoutSource, from: number, to: number, size: number): EncodedEntry[] | undefined {
    if (source.cachedEntry === undefined || from >= to || to > size || from < size - this.#recent) return undefined;
    const out: EncodedEntry[] = [];
    for (let i = from; i < to; i++) {
      const m = this.#message(source, i, size);
      if (m === undefined) return undefined;
      out.push(m);
    }
    return out;
  }

  #shareable(source: FanoutSource, index: number, size: number): boolean {
    return index < size && index >= size - this.#recent && source.cachedEntry?.(index) !== undefined;
  }

  #message(source: FanoutSource, index: number, size: number): EncodedEntry | undefined {
    if (source.cachedEntry === undefined || index < size - this.#recent) return undefined;
    const bySize = this.#messages.get(size);
    const hit = bySize?.get(index);
    if (hit !== undefined) {
      this.#shared += 1;
      return hit;
    }
    const entry = source.cachedEntry(index);
    if (entry === undefined) return undefined;
    const proof = this.#serialize({ inclusionProof: source.inclusionProof(index, size) });
    const message = new EncodedEntry(unpooled(this.#body(entry, size), proof));
    this.#encoded += 1;
    this.#sizeMap(size, bySize).set(index, message);
    return message;
  }

  #body(entry: IndexedEntry, size: number): Buffer {
    const have = this.#bodies.get(entry.index);
    if (have !== undefined) return have;
    const body = unpooled(this.#serialize(entryToWire(entry, [])));
    this.#bodies.set(entry.index, body);
    if (size > this.#newest) this.#newest = size;
    // Bodies are added near the newest size, mostly in order: drop the ones that fell behind.
    if (this.#bodies.size > 2 * this.#recent) {
      for (const i of this.#bodies.keys()) if (i < this.#newest - this.#recent) this.#bodies.delete(i);
    }
    return body;
  }

  #sizeMap(size: number, have: Map<number, EncodedEntry> | undefined): Map<number, EncodedEntry> {
    if (have !== undefined) return have;
    const fresh = new Map<number, EncodedEntry>();
    this.#messages.set(size, fresh);
    if (this.#messages.size > this.#sizes) this.#messages.delete(Math.min(...this.#messages.keys()));
    return fresh;
  }
}
