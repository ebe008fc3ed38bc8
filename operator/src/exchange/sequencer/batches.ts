/**
 * Entry batches on the stream (protocol revision 3, StreamEntryBatches): the messages
 * StreamEntries would send, packed several per LogEntryBatch message. A LogEntryBatch is field 1
 * (`repeated LogEntry entries`) repeated, each a length-delimited copy of one LogEntry message,
 * so a batch is built by prefixing each entry's encoded bytes (shared ones from fanout.ts
 * included) with its field header: no entry is encoded twice, and each entry in a batch is
 * byte for byte what StreamEntries would have sent.
 */
import { ExchangeRefusal } from '../protocol/errors.ts';
import { FRAME_PREFIX_BYTES, frameBuffer, FramedMessage } from '../protocol/framing.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { MAX_BATCH_ITEMS } from '../protocol/messages.ts';
import { EncodedEntry, type EntrySerializer } from './fanout.ts';

/**
 * One StreamEntryBatches message already encoded (`bytes`) and framed for gRPC (`framed`): a
 * call with framed sends (protocol/framing.ts) sends `framed` as it is on every stream; the
 * endpoint's serializer passes `bytes` through otherwise.
 */
export class EncodedBatch extends FramedMessage {
  /** Entries in it. */
  readonly entries: number;
  /** `framed`: the LogEntryBatch message behind its gRPC prefix (protocol/framing.ts frameBuffer). */
  constructor(framed: Buffer, entries: number) {
    super(framed);
    this.entries = entries;
  }
}

/** Bounds of one batch. */
export interface BatchBounds {
  /** Most entries in one batch, 1..1,000. @default 256 */
  readonly maxEntries?: number;
  /** Most bytes in one batch (a single larger entry travels alone); at most the endpoint's message limit. @default 1 MiB */
  readonly maxBytes?: number;
}

/** The endpoint's batch defaults, also what a request asking 0 gets. */
export const BATCH_DEFAULTS = { maxEntries: 256, maxBytes: 1024 * 1024 } as const;

/** The most entries a batch may hold (the protocol's bound; a request above it is refused). */
export const MAX_BATCH_ENTRIES = MAX_BATCH_ITEMS;

// Field 1, wire type 2 (length-delimited), and the varint length: at most 6 bytes below 4 GiB.
const FIELD_HEADER_MAX = 6;

/**
 * The endpoint's own bounds, checked once at start: a configuration that could not fit one
 * gRPC message (or asks more than the protocol allows) is an error that says what to change.
 */
export function endpointBatchBounds(bounds: BatchBounds | undefined, maxMessageBytes: number): Required<BatchBounds> {
  const maxEntries = bounds?.maxEntries ?? BATCH_DEFAULTS.maxEntries;
  const maxBytes = bounds?.maxBytes ?? Math.min(BATCH_DEFAULTS.maxBytes, maxMessageBytes - FIELD_HEADER_MAX);
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_BATCH_ENTRIES) throw new Error(`limits.batch.maxEntries is ${maxEntries}; it must be a whole number from 1 to ${MAX_BATCH_ENTRIES}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > maxMessageBytes - FIELD_HEADER_MAX) {
    throw new Error(`limits.batch.maxBytes is ${maxBytes}; it must be from 1 to ${maxMessageBytes - FIELD_HEADER_MAX} (the message limit ${maxMessageBytes} less a field header), or raise limits.maxMessageBytes`);
  }
  return { maxEntries, maxBytes };
}

/**
 * The bounds one StreamEntryBatches call gets: what the caller asked (0: the endpoint's), never
 * above the endpoint's. Asking more entries than the protocol allows is refused (batch-too-large).
 */
export function requestBatchBounds(req: { readonly maxEntries: number; readonly maxBytes: number }, endpoint: Required<BatchBounds>): Required<BatchBounds> {
  if (!Number.isSafeInteger(req.maxEntries) || req.maxEntries < 0 || req.maxEntries > MAX_BATCH_ENTRIES) {
    throw new ExchangeRefusal('invalid-argument', 'batch-too-large', `max_entries is ${req.maxEntries}; a batch holds at most ${MAX_BATCH_ENTRIES} entries (0 for the sequencer's default)`);
  }
  const maxEntries = req.maxEntries === 0 ? endpoint.maxEntries : Math.min(req.maxEntries, endpoint.maxEntries);
  const maxBytes = req.maxBytes === 0 ? endpoint.maxBytes : Math.min(req.maxBytes, endpoint.maxBytes);
  return { maxEntries, maxBytes };
}

function fieldHeader(length: number): Buffer {
  const out = [0x0a];
  let n = length;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Packs encoded entry messages into batches within bounds, in order. */
class Packer {
  readonly #bounds: Required<BatchBounds>;
  readonly #alloc: (size: number) => Buffer;
  #parts: Buffer[] = [];
  #bytes = 0;
  #count = 0;

  constructor(bounds: Required<BatchBounds>, alloc: (size: number) => Buffer) {
    this.#bounds = bounds;
    this.#alloc = alloc;
  }

  /** Adds one entry message; returns the batch it closed, if it did not fit the open one. */
  add(body: Buffer): EncodedBatch | undefined {
    const header = fieldHeader(body.length);
    const size = header.length + body.length;
    const full = this.#count > 0 && (this.#count >= this.#bounds.maxEntries || this.#bytes + size > this.#bounds.maxBytes) ? this.flush() : undefined;
    this.#parts.push(header, body);
    this.#bytes += size;
    this.#count += 1;
    return full;
  }

  /** The open batch, if any, closed. */
  flush(): EncodedBatch | undefined {
    if (this.#count === 0) return undefined;
    // Framed here, once: grpc-js would copy the message into a framed buffer per stream.
    const out = frameBuffer(this.#bytes, this.#alloc);
    let at = FRAME_PREFIX_BYTES;
    for (const p of this.#parts) at += p.copy(out, at);
    const batch = new EncodedBatch(out, this.#count);
    this.#parts = [];
    this.#bytes = 0;
    this.#count = 0;
    return batch;
  }
}

/**
 * Packs the entry messages of one stream into batches of at most `bounds` (an entry larger
 * than maxBytes is a batch alone). Batches hold what the source has ready: the range a stream
 * serves is within a tree the log already holds, so waiting never means waiting for new entries.
 */
export async function* batched(messages: AsyncIterable<EncodedEntry | LogEntry>, serialize: EntrySerializer, bounds: Required<BatchBounds>): AsyncGenerator<EncodedBatch> {
  const packer = new Packer(bounds, (n) => Buffer.allocUnsafe(n));
  for await (const m of messages) {
    const full = packer.add(m instanceof EncodedEntry ? m.bytes : serialize(m));
    if (full !== undefined) yield full;
  }
  const last = packer.flush();
  if (last !== undefined) yield last;
}

/** How much {@link SharedBatches} keeps. */
export interface SharedBatchLimits {
  /** Ranges whose batches are kept; the oldest is dropped first. @default 32 */
  readonly ranges?: number;
  /** Bytes of kept batches at most; the oldest ranges are dropped first. @default 32 MiB */
  readonly bytes?: number;
}

const SHARED_DEFAULTS = { ranges: 32, bytes: 32 * 1024 * 1024 } as const;

/**
 * Batches built once for every stream that asks the same range in the same tree with the same
 * bounds: after a new tree head, every follower at the head asks [its cursor, new size), mostly
 * the same range, and each gets the same batch buffers (no per-stream packing or copying). Only
 * ranges whose every entry the fan-out shares (fanout.ts sharedRange: the honest sequencer's
 * entries, recent) are built here. Bounded by {@link SharedBatchLimits}; kept buffers are not
 * slices of Node's pool. One per endpoint.
 */
export class SharedBatches {
  readonly #kept = new Map<string, { readonly batches: readonly EncodedBatch[]; readonly bytes: number }>();
  readonly #limits: Required<SharedBatchLimits>;
  #bytes = 0;
  #built = 0;
  #reused = 0;

  constructor(limits: SharedBatchLimits = {}) {
    this.#limits = { ...SHARED_DEFAULTS, ...limits };
  }

  /** Ranges packed here, and streams handed batches packed for another. */
  stats(): { readonly built: number; readonly reused: number; readonly ranges: number; readonly bytes: number } {
    return { built: this.#built, reused: this.#reused, ranges: this.#kept.size, bytes: this.#bytes };
  }

  /**
   * The batches of the range [from, to) of the tree of `size` within `bounds`: kept ones, or
   * packed from `messages()` (the range's shared entry messages, in order) and kept. Undefined
   * when `messages()` is (the range cannot be shared: the stream packs its own).
   */
  get(range: { readonly from: number; readonly to: number; readonly size: number }, bounds: Required<BatchBounds>, messages: () => readonly EncodedEntry[] | undefined): readonly EncodedBatch[] | undefined {
    const key = `${range.from}:${range.to}:${range.size}:${bounds.maxEntries}:${bounds.maxBytes}`;
    const kept = this.#kept.get(key);
    if (kept !== undefined) {
      this.#reused += 1;
      return kept.batches;
    }
    const entries = messages();
    if (entries === undefined) return undefined;
    const packer = new Packer(bounds, (n) => Buffer.allocUnsafeSlow(n));
    const batches: EncodedBatch[] = [];
    for (const e of entries) {
      const full = packer.add(e.bytes);
      if (full !== undefined) batches.push(full);
    }
    const last = packer.flush();
    if (last !== undefined) batches.push(last);
    this.#keep(key, batches);
    return batches;
  }

  #keep(key: string, batches: readonly EncodedBatch[]): void {
    const bytes = batches.reduce((n, b) => n + b.framed.length, 0);
    this.#built += 1;
    // Larger than the whole budget: used once, never kept.
    if (bytes > this.#limits.bytes) return;
    this.#kept.set(key, { batches, bytes });
    this.#bytes += bytes;
    for (const [k, v] of this.#kept) {
      if (this.#kept.size <= this.#limits.ranges && this.#bytes <= this.#limits.bytes) break;
      this.#kept.delete(k);
      this.#bytes -= v.bytes;
    }
  }
}
