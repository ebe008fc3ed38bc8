/**
 * Counts this process's Ed25519 verifications by wrapping node:crypto's `verify`, as the
 * benchmarks count them (bench/scale-verifycount.ts): from the calling test file's `before` hook
 * to its `after` hook, which puts the original back ({@link countVerifications}), or from
 * {@link startCountingVerifications} to its `stop` (a benchmark).
 */
import { after, before } from 'node:test';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

/** The verifications counted since the last `reset()`. */
export interface VerifyCounter {
  readonly count: number;
  reset(): void;
}

/** A counter that counts until `stop()`, which puts node:crypto's `verify` back. */
export interface StoppableVerifyCounter extends VerifyCounter {
  stop(): void;
}

function wrap(onCall: () => void): () => void {
  const original = crypto.verify;
  crypto.verify = ((...args: Parameters<typeof original>) => {
    onCall();
    return (original as (...a: unknown[]) => unknown)(...args);
  }) as typeof original;
  syncBuiltinESMExports();
  return () => {
    crypto.verify = original;
    syncBuiltinESMExports();
  };
}

/** Counts from now until `stop()`. */
export function startCountingVerifications(): StoppableVerifyCounter {
  let calls = 0;
  const stop = wrap(() => { calls++; });
  return {
    get count() { return calls; },
    reset() { calls = 0; },
    stop,
  };
}

/** Registers the wrapping hooks in the calling test file; call it once, at the top level. */
export function countVerifications(): VerifyCounter {
  let calls = 0;
  let unwrap = (): void => undefined;
  before(() => { unwrap = wrap(() => { calls++; }); });
  after(() => unwrap());
  return {
    get count() { return calls; },
    reset() { calls = 0; },
  };
}
