/** The Kubernetes API error a call must end with, for tests of what the API server refuses. */
import assert from 'node:assert/strict';
import { ApiError } from '../../operator/src/runtime/client.ts';

/** Awaits `p` and returns its ApiError; fails the test with `accepted` when it resolves, and rethrows any other error. */
export async function apiErrorOf(p: Promise<unknown>, accepted = 'the API server accepted the write'): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail(accepted);
}
