/**
 * Preload (`node --import ./bench/scale-verifycount.ts`) that counts signature verifications:
 * it wraps node:crypto's `verify` (every Ed25519 check of domain/signature.ts goes through it)
 * and, in every thread that loads it, keeps its running count in
 * `$THREATMESH_VERIFY_COUNT_DIR/<pid>-<thread>.count` (rewritten at most every 200 ms and at
 * exit), so the scale bench can add up the verifications of every party of a run. Without the
 * variable it does nothing.
 */
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env['THREATMESH_VERIFY_COUNT_DIR'];
if (dir !== undefined && dir !== '') {
  const file = join(dir, `${process.pid}-${threadId}.count`);
  let count = 0;
  let dirty = false;
  const flush = (): void => {
    if (!dirty) return;
    dirty = false;
    writeFileSync(file, String(count));
  };
  const original = crypto.verify;
  crypto.verify = ((...args: Parameters<typeof original>) => {
    count++;
    dirty = true;
    return (original as (...a: unknown[]) => unknown)(...args);
  }) as typeof original;
  syncBuiltinESMExports();
  setInterval(flush, 200).unref();
  process.on('exit', flush);
}
