import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_PREFIX_BYTES, frameBuffer, FramedMessage, FramedSends } from './framing.ts';

/** A message framed as grpc-js frames it (server-interceptors.js serializeMessage): flag 0, length, bytes. */
function grpcFramed(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length + 5);
  out.writeUInt32BE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}

function framedOf(bytes: Buffer): FramedMessage {
  const out = frameBuffer(bytes.length);
  bytes.copy(out, FRAME_PREFIX_BYTES);
  return new FramedMessage(out);
}

/** The shape of grpc-js's sending call, serializing by a counted copy as grpc-js does. */
function sendingCall(): { call: { serializeMessage(v: unknown): Buffer }; copies: () => number } {
  let copies = 0;
  const call = {
    serializeMessage(v: unknown): Buffer {
      copies += 1;
      return grpcFramed(v as Buffer);
    },
  };
  return { call, copies: () => copies };
}

describe('FramedMessage: a message framed once for gRPC', () => {
  test('its framed bytes are what grpc-js frames from its message bytes, of every size', () => {
    for (const n of [0, 1, 127, 128, 65_536]) {
      const bytes = Buffer.alloc(n, 7);
      const m = framedOf(bytes);
      assert.deepEqual(m.framed, grpcFramed(bytes));
      assert.deepEqual(m.bytes, bytes);
      assert.equal(m.framed.buffer.byteLength, m.framed.length, 'not a slice of the shared pool');
    }
  });

  test('a buffer without the uncompressed flag and its own length is refused', () => {
    for (const bad of [Buffer.alloc(4), Buffer.from([1, 0, 0, 0, 1, 9]), Buffer.from([0, 0, 0, 0, 2, 9])]) {
      assert.throws(() => new FramedMessage(bad), /build it with frameBuffer/);
    }
  });
});

describe('FramedSends: a framed message goes out as built, on every stream, without a copy', () => {
  test('N calls send the very same framed buffer; other messages are framed by grpc-js as before', () => {
    const sends = new FramedSends();
    const m = framedOf(Buffer.from('a batch of entries'));
    const calls = Array.from({ length: 5 }, sendingCall);
    for (const c of calls) assert.equal(sends.install({ call: c.call }), true);
    for (const c of calls) assert.equal(c.call.serializeMessage(m), m.framed, 'the same buffer');
    assert.deepEqual(calls.map((c) => c.copies()), [0, 0, 0, 0, 0], 'no copy for the framed message');
    const other = Buffer.from('a single entry');
    assert.deepEqual(calls[0]!.call.serializeMessage(other), grpcFramed(other));
    assert.equal(calls[0]!.copies(), 1);
    assert.deepEqual(sends.stats(), { calls: 5, unpatched: 0, messages: 5 });
  });

  test('a call whose framing is not where grpc-js 1.14 keeps it is left as it is, and counted', () => {
    const sends = new FramedSends();
    const moved = { call: { sendMessage: () => undefined } };
    assert.equal(sends.install(moved), false);
    assert.equal(sends.install({}), false);
    assert.deepEqual(Object.keys(moved.call), ['sendMessage'], 'nothing added');
    assert.deepEqual(sends.stats(), { calls: 0, unpatched: 2, messages: 0 });
  });
});
