import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartFailed, launch, waitUntil, type ManagedProcess } from './process.ts';

const never = (): Promise<boolean> => new Promise<boolean>(() => undefined);

/** Runs `script` under /bin/sh with its output in a log of a fresh directory; stops it and removes the directory afterwards. */
async function child(t: { after: (fn: () => Promise<void>) => void }, script: string): Promise<ManagedProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-process-test-'));
  const proc = await launch({ name: 'child', command: '/bin/sh', args: ['-c', script], logPath: join(dir, 'child.log') });
  t.after(async () => {
    await proc.stop(1000);
    await rm(dir, { recursive: true, force: true });
  });
  return proc;
}

async function failure(p: Promise<void>): Promise<StartFailed> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof StartFailed, `a StartFailed, got ${String(err)}`);
  return err;
}

// A child's start: fails at once when it exits, waits while it progresses up to the cap, fails sooner when it stalls.
describe('waitUntil bounds a start', { timeout: 30_000 }, () => {
  it('a child that exits fails the wait at once, even while a check is still waiting, with its log tail and what to do', async (t) => {
    const proc = await child(t, 'sleep 0.3; echo "bind: address already in use"; exit 3');
    const began = Date.now();
    const err = await failure(waitUntil('/readyz answered 200', proc, never, { capMs: 60_000, stallMs: 60_000 }));
    assert.equal(err.reason, 'exited');
    assert.ok(Date.now() - began < 10_000, `failed after ${Date.now() - began} ms, not at the cap`);
    assert.match(err.message, /child exited \(exit code 3\) before \/readyz answered 200: its log below says why; fix that and start again/);
    assert.match(err.message, /bind: address already in use/);
  });

  it('a child that keeps making progress outlives the stall window and fails at the cap, saying how to raise it', async (t) => {
    const proc = await child(t, 'while true; do echo starting; sleep 0.1; done');
    const began = Date.now();
    const err = await failure(waitUntil('/readyz answered 200', proc, () => Promise.resolve(false), { capMs: 3000, stallMs: 1000, intervalMs: 100, raise: 'set THREATMESH_START_TIMEOUT=SECONDS' }));
    assert.equal(err.reason, 'cap', err.message);
    assert.ok(Date.now() - began >= 3000, 'waited the whole cap');
    assert.match(err.message, /within the start cap of 3 s, though the process was still making progress: the machine is likely overloaded; lower the load or raise the cap \(set THREATMESH_START_TIMEOUT=SECONDS\)/);
  });

  it('a child that shows no progress (no CPU time, no log output) fails at the stall window, well before the cap', async (t) => {
    const proc = await child(t, 'exec sleep 60');
    const began = Date.now();
    const err = await failure(waitUntil('/readyz answered 200', proc, () => Promise.resolve(false), { capMs: 60_000, stallMs: 1000, intervalMs: 100 }));
    assert.equal(err.reason, 'stalled', err.message);
    assert.ok(Date.now() - began < 20_000, `failed after ${Date.now() - began} ms`);
    assert.match(err.message, /used no CPU time and wrote no log for 1 s: it is stuck/);
  });

  it('a check that passes ends the wait', async (t) => {
    const proc = await child(t, 'exec sleep 60');
    let calls = 0;
    await waitUntil('ready', proc, () => Promise.resolve(++calls === 3), { capMs: 10_000, intervalMs: 10 });
    assert.equal(calls, 3);
  });
});
