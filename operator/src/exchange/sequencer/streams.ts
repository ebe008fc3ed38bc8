/**
 * Serving one StreamEntries or StreamEntryBatches call: the per-partner stream slots, the range
 * one stream may ask, gRPC flow control, and the cut of a stream whose reader reads nothing.
 */
import type * as grpc from '@grpc/grpc-js';
import { ExchangeRefusal, sequencerStopping } from '../protocol/errors.ts';

/** What every stream of one endpoint shares. */
export interface StreamServing {
  readonly slots: StreamSlots;
  /** Streams ended for reading nothing (counted for /metrics). */
  readonly drops: { slow: number };
  /** Aborted when the endpoint stops: streams end at once. */
  readonly stopping: AbortSignal;
  /** The most entries one stream serves; the partner opens another for the rest. */
  readonly maxEntriesPerStream: number;
  /** How long a stream may wait for its reader to drain before it is cut. */
  readonly drainTimeoutMs: number;
}

/** Open StreamEntries calls per partner, bounded. */
export class StreamSlots {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Takes a slot for `partnerId`, or refuses when it has all of them. */
  take(partnerId: string): void {
    const n = this.#open.get(partnerId) ?? 0;
    if (n >= this.#max) throw new ExchangeRefusal('resource-exhausted', 'too-many-streams', `partner ${partnerId} already has ${n} entry streams open, the most one partner may; finish or cancel one first`);
    this.#open.set(partnerId, n + 1);
  }

  /** Gives back a slot {@link take} took. */
  release(partnerId: string): void {
    const n = (this.#open.get(partnerId) ?? 1) - 1;
    if (n <= 0) this.#open.delete(partnerId);
    else this.#open.set(partnerId, n);
  }

  /** Streams open now, all partners together. */
  total(): number {
    let sum = 0;
    for (const n of this.#open.values()) sum += n;
    return sum;
  }
}

/** The range one stream serves: [from, to) of the tree of `size` leaves, at most `cap` entries; refused when it leaves the tree. */
function streamRange(req: { readonly fromIndex: number; readonly treeSize: number }, cap: number): { from: number; to: number; size: number } {
  const { fromIndex: from, treeSize: size } = req;
  // Same checks as the core's entries() makes, before any shared bytes are handed out.
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(size) || from < 0 || from > size) throw new ExchangeRefusal('out-of-range', 'out-of-range', `requested entries from ${from} in tree size ${size}; ask for a tree head first and stay within it`);
  return { from, to: Math.min(size, from + cap), size };
}

/**
 * Serves one entry stream, single entries or batches: `produce` gives the messages of [from, to)
 * with proofs in the tree of `size` leaves. Flow control, the per-stream cap and the slow-reader
 * cut are the same for both. `reader` authorizes the caller to read and names it.
 */
export async function streamEntries(
  { slots, drops, stopping, maxEntriesPerStream, drainTimeoutMs: drainMs }: StreamServing,
  call: grpc.ServerWritableStream<{ fromIndex: number; treeSize: number }, unknown>,
  reader: () => string,
  produce: (from: number, to: number, size: number) => AsyncIterable<unknown>,
): Promise<void> {
  const who = reader();
  slots.take(who);
  try {
    const { from, to, size } = streamRange(call.request, maxEntriesPerStream);
    // Leaving the loop (return) closes the log reader: a cancelled or dropped call holds nothing.
    // Proofs stay in the tree the partner asked for; only the range is cut.
    for await (const message of produce(from, to, size)) {
      if (!(await send({ drops, stopping, drainTimeoutMs: drainMs }, call, who, message))) return;
    }
    call.end();
  } finally {
    slots.release(who);
  }
}

/**
 * Writes one message of a stream with flow control: resolves true once the client can take
 * more, false when the call ended (cancelled, closed) first; throws UNAVAILABLE
 * sequencer-stopping when the endpoint stops, and RESOURCE_EXHAUSTED slow-stream (counted)
 * when the client read nothing for the drain timeout.
 */
export async function send(
  { drops, stopping, drainTimeoutMs: drainMs }: Pick<StreamServing, 'drops' | 'stopping' | 'drainTimeoutMs'>,
  call: grpc.ServerWritableStream<unknown, unknown>,
  who: string,
  message: unknown,
): Promise<boolean> {
  if (call.cancelled) return false;
  if (stopping.aborted) throw sequencerStopping();
  // Respect flow control: wait for the client to drain, or for the call to end, before producing more.
  if (call.write(message)) return true;
  const outcome = await drainedOrEnded(call, drainMs, stopping);
  if (outcome === 'ended') return false;
  if (outcome === 'stopping') throw sequencerStopping();
  if (outcome === 'stalled') {
    drops.slow += 1;
    throw new ExchangeRefusal('resource-exhausted', 'slow-stream', `partner ${who} read nothing of this entry stream for ${drainMs / 1000} s; the stream was ended to free its slot: resume from your cursor (read the stream as it arrives)`);
  }
  return true;
}

/**
 * Resolves 'drained' once the client drained the stream, 'ended' once the call was cancelled or
 * closed first, 'stopping' once the endpoint stops, 'stalled' after `timeoutMs` of none of these.
 */
function drainedOrEnded(call: grpc.ServerWritableStream<unknown, unknown>, timeoutMs: number, stopping: AbortSignal): Promise<'drained' | 'ended' | 'stalled' | 'stopping'> {
  if (call.cancelled) return Promise.resolve('ended');
  if (stopping.aborted) return Promise.resolve('stopping');
  return new Promise((resolve) => {
    const settle = (how: 'drained' | 'ended' | 'stalled' | 'stopping') => (): void => {
      clearTimeout(timer);
      call.off('drain', onDrain);
      call.off('cancelled', onEnd);
      call.off('close', onEnd);
      call.off('error', onEnd);
      stopping.removeEventListener('abort', onStop);
      resolve(call.cancelled ? 'ended' : how);
    };
    const onDrain = settle('drained');
    const onEnd = settle('ended');
    const onStop = settle('stopping');
    stopping.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(settle('stalled'), timeoutMs);
    call.once('drain', onDrain);
    call.once('cancelled', onEnd);
    call.once('close', onEnd);
    call.once('error', onEnd);
  });
}
