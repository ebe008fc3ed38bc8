/**
 * Messages framed once, sent on many streams. grpc-js frames every message a server call sends
 * by allocating a new buffer of 5 + its length (the gRPC prefix: compressed flag, length) and
 * copying the serialized bytes into it (grpc-js 1.14 server-interceptors.js
 * `BaseServerInterceptingCall.serializeMessage`), once per stream. The sequencer sends the same
 * batch of log entries to up to every partner's stream (sequencer/batches.ts SharedBatches), so
 * that copy, and the short-lived buffer outside the V8 heap it makes (which drives collections),
 * was paid once per stream. A {@link FramedMessage} is built with its prefix in front once, and a
 * call {@link FramedSends.install}ed sends those very bytes on every stream: the bytes on the
 * wire are the same, only the copy is gone. Any other message is framed by grpc-js as before.
 */

/** Bytes of the gRPC message prefix: one flag byte (0: not compressed) and the length, 4 bytes big-endian. */
export const FRAME_PREFIX_BYTES = 5;

/** One message already serialized, behind its gRPC prefix. Immutable once built: many streams send the same bytes. */
export class FramedMessage {
  /** The prefix and the message: what goes into the HTTP/2 DATA frames. */
  readonly framed: Buffer;
  /** The serialized message alone (a view of {@link framed}). */
  readonly bytes: Buffer;

  /** `framed` as {@link frameBuffer} made it, the message written after the prefix. */
  constructor(framed: Buffer) {
    if (framed.length < FRAME_PREFIX_BYTES || framed[0] !== 0 || framed.readUInt32BE(1) !== framed.length - FRAME_PREFIX_BYTES) {
      throw new Error('a framed message starts with the uncompressed flag and its length; build it with frameBuffer');
    }
    this.framed = framed;
    this.bytes = framed.subarray(FRAME_PREFIX_BYTES);
  }
}

/**
 * A buffer for a message of `length` bytes with the gRPC prefix already written; the caller
 * writes the message from offset {@link FRAME_PREFIX_BYTES}. `allocate` defaults to a buffer of
 * its own (not a slice of Node's pool, so a kept message keeps only its own bytes).
 */
export function frameBuffer(length: number, allocate: (size: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n)): Buffer {
  const out = allocate(FRAME_PREFIX_BYTES + length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(length, 1);
  return out;
}

/** Server calls made to send framed messages as they are, and what they sent. */
export interface FramedSendStats {
  /** Calls that send {@link FramedMessage}s without a copy. */
  readonly calls: number;
  /** Calls where grpc-js's framing could not be found (each message is copied, as before). */
  readonly unpatched: number;
  /** Framed messages sent as they were built. */
  readonly messages: number;
}

/** The grpc-js object a server call sends through (grpc-js 1.14, no server interceptors). */
interface SendingCall {
  serializeMessage: (this: SendingCall, value: unknown) => Buffer;
}

/** Installs framed sends on server calls and counts them. One per endpoint. */
export class FramedSends {
  #calls = 0;
  #unpatched = 0;
  #messages = 0;

  /**
   * Makes `call` (a grpc-js server stream) send each {@link FramedMessage} written to it as its
   * framed bytes, and anything else through grpc-js's own framing. Returns false, and changes
   * nothing, when grpc-js keeps its framing elsewhere (another version, server interceptors):
   * the call then works as before, copying, and {@link stats} counts it as `unpatched` (a test
   * asserts none are, so an upgrade that moves it fails a test rather than costing CPU silently).
   * grpc-js's checks after framing (the message size limit, flow control) apply as before.
   */
  install(call: object): boolean {
    const sending = (call as { readonly call?: unknown }).call;
    if (!isSendingCall(sending)) {
      this.#unpatched += 1;
      return false;
    }
    const own = sending.serializeMessage;
    // grpc-js 1.14 never compresses a server's messages (the flag is always 0), as the prefix here.
    sending.serializeMessage = (value: unknown): Buffer => {
      if (!(value instanceof FramedMessage)) return own.call(sending, value);
      this.#messages += 1;
      return value.framed;
    };
    this.#calls += 1;
    return true;
  }

  /** What was installed and sent since the endpoint started. */
  stats(): FramedSendStats {
    return { calls: this.#calls, unpatched: this.#unpatched, messages: this.#messages };
  }
}

function isSendingCall(x: unknown): x is SendingCall {
  return typeof x === 'object' && x !== null && typeof (x as { serializeMessage?: unknown }).serializeMessage === 'function';
}
