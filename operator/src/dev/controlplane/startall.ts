/**
 * Starting several local processes at once without orphaning any: with `Promise.all`, the first
 * failed start rejects at once and the starts that succeeded (or succeed later) are held by
 * nobody, so their processes outlive the command that started them. The chaos runner left three
 * kube-apiservers and their databases running that way when one cluster missed its readiness
 * deadline under load.
 */

/**
 * Waits for every start, then returns the started values in order. When any start failed, it
 * stops every value that did start (a failing stop is ignored: the start failure is the one to
 * report) and throws the failure; several failures are thrown as one error naming each, the
 * first as its `cause`.
 */
export async function startAll<T>(starts: ReadonlyArray<Promise<T>>, stop: (started: T) => Promise<void>): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const up = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length === 0) return up;
  await Promise.all(up.map((v) => stop(v).catch(() => undefined)));
  if (failed.length === 1) throw failed[0];
  throw new Error(failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'), { cause: failed[0] });
}

/**
 * Runs `start` up to `attempts` times and returns its first success; each failure but the last
 * is reported through `retrying` (with the attempt that follows) and the last one is thrown. It
 * stops early when `signal` is aborted. `start` must clean up after itself when it fails, as
 * {@link startAll} does: on a loaded machine a kube-apiserver can miss its readiness deadline
 * once, and a run of many hours should not end on that.
 */
export async function withAttempts<T>(
  start: () => Promise<T>,
  o: { readonly attempts: number; readonly signal?: AbortSignal; readonly retrying: (err: unknown, next: number) => void },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= o.attempts || o.signal?.aborted === true) throw err;
      o.retrying(err, attempt + 1);
    }
  }
}
