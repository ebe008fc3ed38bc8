import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAll, withAttempts } from './startall.ts';

const later = <T>(ms: number, v: T): Promise<T> => new Promise((res) => setTimeout(() => res(v), ms));
const failLater = (ms: number, msg: string): Promise<never> => new Promise((_, rej) => setTimeout(() => rej(new Error(msg)), ms));

test('startAll returns every started value in order and stops none', async () => {
  const stopped: string[] = [];
  const up = await startAll([later(5, 'a'), later(1, 'b'), later(3, 'c')], (v) => { stopped.push(v); return Promise.resolve(); });
  assert.deepEqual(up, ['a', 'b', 'c']);
  assert.deepEqual(stopped, []);
});

test('startAll stops the starts that succeeded, also those that finish after the failure, and throws the failure', async () => {
  const stopped: string[] = [];
  const failure = failLater(1, 'partner-a: kube-apiserver did not become ready within 180000 ms');
  await assert.rejects(
    startAll([later(2, 'sequencer'), failure, later(20, 'partner-b')], (v) => { stopped.push(v); return Promise.resolve(); }),
    /partner-a: kube-apiserver did not become ready/,
  );
  assert.deepEqual(stopped.sort(), ['partner-b', 'sequencer']);
});

test('startAll names every failure, the first as the cause, and a failing stop does not hide them', async () => {
  const err = await startAll([failLater(1, 'one failed'), later(1, 'x'), failLater(2, 'two failed')], () => Promise.reject(new Error('stop failed')))
    .then(() => assert.fail('startAll resolved'), (e: unknown) => e as Error);
  assert.equal(err.message, 'one failed\ntwo failed');
  assert.equal((err.cause as Error).message, 'one failed');
});

test('withAttempts returns the first success and reports each failure before it', async () => {
  let calls = 0;
  const retries: string[] = [];
  const v = await withAttempts(() => (++calls < 3 ? Promise.reject(new Error(`miss ${calls}`)) : Promise.resolve('up')), {
    attempts: 3, retrying: (err, next) => retries.push(`${(err as Error).message} → ${next}`),
  });
  assert.equal(v, 'up');
  assert.deepEqual(retries, ['miss 1 → 2', 'miss 2 → 3']);
});

test('withAttempts throws the last failure after its attempts, and tries no more once aborted', async () => {
  let calls = 0;
  await assert.rejects(withAttempts(() => Promise.reject(new Error(`miss ${++calls}`)), { attempts: 2, retrying: () => undefined }), /miss 2/);
  assert.equal(calls, 2);
  const ac = new AbortController();
  ac.abort();
  calls = 0;
  await assert.rejects(withAttempts(() => Promise.reject(new Error(`miss ${++calls}`)), { attempts: 5, signal: ac.signal, retrying: () => undefined }), /miss 1/);
  assert.equal(calls, 1);
});
