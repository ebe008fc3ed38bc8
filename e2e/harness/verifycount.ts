/**
 * Counts this process's Ed25519 verifications by wrapping node:crypto's `verify`, as the
 * benchmarks count them (bench/scale-verifycount.ts): from the calling test file's `before` hook
 * to its `after` hook, which puts the original back.
 */
import { after, before } from 'node:test';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

/** The verifications counted since the last `reset()`. */
export interface VerifyCounter {
  readonly count: number;
  reset(): void;
}

/** Registers the wrapping hooks in the calling test file; call it once, at the top level. */
export function countVerifications(): VerifyCounter {
  let calls = 0;
  const original = crypto.verify;
  before(() => {
    crypto.verify = ((...args: Parameters<typeof original>) => {
      calls++;
      return (original as (...a: unknown[]) => unknown)(...args);
    }) as typeof original;
    syncBuiltinESMExports();
  });
  after(() => {
    crypto.verify = original;
    syncBuiltinESMExports();
  });
  return {
    get count() { return calls; },
    reset() { calls = 0; },
  };
}
