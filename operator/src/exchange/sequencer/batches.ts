/**
 * Entry batches on the stream (protocol revision 3, StreamEntryBatches): the messages
 * StreamEntries would send, packed several per LogEntryBatch message. A LogEntryBatch is field 1
 * (`repeated LogEntry entries`) repeated, each a length-delimited copy of one LogEntry message,
 * so a batch is built by prefixing each entry's encoded bytes (shared ones from fanout.ts
 * included) with its field header: no entry is encoded twice, and each entry in a batch is
 * byte for byte what StreamEntries would have sent.
 */
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { MAX_BATCH_ITEMS } from '../protocol/messages.ts';
import { EncodedEntry, type EntrySerializer } from './fanout.ts';

/** One StreamEntryBatches message already encoded; the endpoint's serializer passes its bytes through. */
export class EncodedBatch {
  /** The encoded LogEntryBatch message. */
  readonly bytes: Buffer;
  /** Entries in it. */
  readonly entries: number;
  constructor(bytes: Buffer, entries: number) {
    this.bytes = bytes;
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

/**
 * Packs the entry messages of one stream into batches of at most `bounds` (an entry larger
 * than maxBytes is a batch alone). Batches hold what the source has ready: the range a stream
 * serves is within a tree the log already holds, so waiting never means waiting for new entries.
 */
export async function* batched(messages: AsyncIterable<EncodedEntry | LogEntry>, serialize: EntrySerializer, bounds: Required<BatchBounds>): AsyncGenerator<EncodedBatch> {
  let parts: Buffer[] = [];
  let bytes = 0;
  let count = 0;
  for await (const m of messages) {
    const body = m instanceof EncodedEntry ? m.bytes : serialize(m);
    const header = fieldHeader(body.length);
    const size = header.length + body.length;
    if (count > 0 && (count >= bounds.maxEntries || bytes + size > bounds.maxBytes)) {
      yield new EncodedBatch(Buffer.concat(parts, bytes), count);
      parts = [];
      bytes = 0;
      count = 0;
    }
    parts.push(header, body);
    bytes += size;
    count += 1;
  }
  if (count > 0) yield new EncodedBatch(Buffer.concat(parts, bytes), count);
}
