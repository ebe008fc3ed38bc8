/**
 * Preload (`node --import ./bench/scale-verifycount.ts`) that counts signature verifications:
 * it wraps node:crypto's `verify` (every Ed25519 check of domain/signature.ts goes through it)
 * and, in every thread that loads it, keeps its running count in
 * `$THREATMESH_VERIFY_COUNT_DIR/<pid>-<thread>.count` (rewritten at most every 200 ms and at
 * exit), so the scale bench can add up the verifications of every party of a run. Next to it,
 * `<pid>-<thread>.json` ({@link VerifyDetail}) says which party the thread is (from its
 * `workerData`: a partner thread of bench/exchange.bench.ts carries `id`, a client thread
 * `alpha`; the main thread is the sequencer's), the count per signature kind, and how many calls
 * repeated a (key, message, signature) triple the same thread had already verified. Without the
 * variable it does nothing.
 */
import crypto, { createHash, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { isMainThread, threadId, workerData } from 'node:worker_threads';

/** What one thread's `.json` file holds. */
export interface VerifyDetail {
  readonly role: string;
  readonly total: number;
  /** Calls per signature kind (`threatmesh/v1/<kind>\0` prefix of the message; `other` without it). */
  readonly byKind: Record<string, number>;
  /** Calls whose (key, message, signature) this thread had verified before, per kind. */
  readonly repeatsByKind: Record<string, number>;
}

function roleOf(): string {
  if (isMainThread) return 'sequencer (main thread)';
  const d = workerData as Record<string, unknown> | undefined;
  if (typeof d?.['id'] === 'string') return `partner ${d['id']}`;
  if (d?.['alpha'] !== undefined) return 'clients';
  return `thread ${threadId}`;
}

function kindOf(data: unknown): string {
  if (!(data instanceof Uint8Array)) return 'other';
  const head = Buffer.from(data.subarray(0, 48)).toString('latin1');
  const m = /^threatmesh\/v1\/([a-z-]+)\0/.exec(head);
  return m?.[1] ?? 'other';
}

const dir = process.env['THREATMESH_VERIFY_COUNT_DIR'];
if (dir !== undefined && dir !== '') {
  const file = join(dir, `${process.pid}-${threadId}`);
  const role = roleOf();
  let count = 0;
  let dirty = false;
  const byKind: Record<string, number> = {};
  const repeatsByKind: Record<string, number> = {};
  const seen = new Set<string>();
  const flush = (): void => {
    if (!dirty) return;
    dirty = false;
    const detail: VerifyDetail = { role, total: count, byKind, repeatsByKind };
    try {
      writeFileSync(`${file}.count`, String(count));
      writeFileSync(`${file}.json`, JSON.stringify(detail));
    } catch {
      // The directory is gone (the bench that made it has read it and cleaned up): nobody counts any more.
    }
  };
  const original = crypto.verify;
  crypto.verify = ((...args: Parameters<typeof original>) => {
    count++;
    dirty = true;
    const [, data, key, signature] = args as unknown as [unknown, Uint8Array, KeyObject, Uint8Array];
    const kind = kindOf(data);
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const raw = typeof key?.export === 'function' ? key.export({ format: 'der', type: 'spki' }) : Buffer.alloc(0);
    const id = createHash('sha256').update(raw).update(data).update(signature ?? Buffer.alloc(0)).digest('base64');
    if (seen.has(id)) repeatsByKind[kind] = (repeatsByKind[kind] ?? 0) + 1;
    else seen.add(id);
    return (original as (...a: unknown[]) => unknown)(...args);
  }) as typeof original;
  syncBuiltinESMExports();
  setInterval(flush, 200).unref();
  process.on('exit', flush);
}
