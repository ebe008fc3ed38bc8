/**
 * Stopping `npm run chaos` (SIGTERM/SIGINT) leaves no process behind: pending faults and heals
 * are cancelled before the network stops, and a part that is sealed never starts again, even
 * when a heal or a start is already under way. Real child processes, found with pgrep.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { FaultInjector, runSchedule, type Fault, type Injector } from '../chaos/faults.ts';
import type { ChaosNetwork } from '../chaos/network.ts';
import { Part } from '../chaos/parts.ts';

const run = promisify(execFile);
let dir: string;
const parts: Part[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-chaos-cancel-'));
});

after(async () => {
  for (const p of parts) await p.close(1_000);
  await rm(dir, { recursive: true, force: true });
});

/** Pids whose command line holds `marker`. */
async function pgrep(marker: string): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', marker]);
    return stdout.split('\n').filter((l) => l !== '').map(Number);
  } catch (err) {
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

/** Polls pgrep until `want(pids)` holds or 3 s pass; returns the last answer. */
async function eventually(marker: string, want: (pids: number[]) => boolean): Promise<number[]> {
  const deadline = Date.now() + 3_000;
  let pids = await pgrep(marker);
  while (!want(pids) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    pids = await pgrep(marker);
  }
  return pids;
}

/** A real process (node idling) with a unique marker in its command line. */
function part(name: string): { part: Part; marker: string } {
  const marker = `threatmesh-chaos-cancel-${randomBytes(6).toString('hex')}`;
  const p = new Part({
    name, kind: 'operator', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)', marker], logPath: join(dir, `${marker}.log`), ready: () => Promise.resolve(true),
  }, () => undefined);
  parts.push(p);
  return { part: p, marker };
}

// Only what FaultInjector reads for a kill of a named process.
function networkOf(...ps: Part[]): ChaosNetwork {
  return { parts: () => ps } as unknown as ChaosNetwork;
}

const quiet = (): void => undefined;
const kill = (name: string, atMs: number, forMs: number): Fault => ({ atMs, kind: 'kill-operator', target: name, forMs });

describe('runSchedule cancels what is pending when its signal aborts', () => {
  const cases: Array<{ name: string; schedule: Fault[]; abortAtMs?: number; injected: string[]; healed: string[] }> = [
    { name: 'not aborted: every fault injected, then healed', schedule: [kill('a', 0, 50), kill('b', 20, 50)], injected: ['a', 'b'], healed: ['a', 'b'] },
    { name: 'aborted during the faults: none healed', schedule: [kill('a', 0, 5_000), kill('b', 20, 5_000)], abortAtMs: 150, injected: ['a', 'b'], healed: [] },
    { name: 'aborted before a fault is due: it is never injected', schedule: [kill('a', 0, 5_000), kill('b', 10_000, 100)], abortAtMs: 150, injected: ['a'], healed: [] },
    { name: 'aborted before the start: nothing happens', schedule: [kill('a', 0, 100)], abortAtMs: 0, injected: [], healed: [] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const injected: string[] = [];
      const healed: string[] = [];
      const inj: Injector = {
        inject: (f) => {
          injected.push(f.target);
          return Promise.resolve(() => Promise.resolve(void healed.push(f.target)));
        },
      };
      const ctl = new AbortController();
      if (c.abortAtMs === 0) ctl.abort();
      else if (c.abortAtMs !== undefined) setTimeout(() => ctl.abort(), c.abortAtMs);
      const t0 = Date.now();
      await runSchedule(c.schedule, inj, t0, quiet, ctl.signal);
      assert.deepEqual([injected.sort(), healed.sort()], [c.injected, c.healed]);
      // Cancelled timers do not hold the schedule: it ends right after the abort.
      if (c.abortAtMs !== undefined) assert.ok(Date.now() - t0 < c.abortAtMs + 1_000, `ended ${Date.now() - t0} ms after the start`);
    });
  }
});

describe('no process outlives a stopped chaos run', () => {
  it('control: without a cancel, the heal restarts the killed process', async () => {
    const { part: p, marker } = part('control operator');
    await p.start();
    assert.equal((await eventually(marker, (x) => x.length === 1)).length, 1);
    await runSchedule([kill('control operator', 0, 200)], new FaultInjector(networkOf(p), quiet), Date.now(), (_f, err) => assert.fail(String(err)));
    assert.equal((await eventually(marker, (x) => x.length === 1)).length, 1, 'the heal started it again');
    await p.close(1_000);
    assert.deepEqual(await eventually(marker, (x) => x.length === 0), []);
  });

  it('a stop during a fault cancels its heal: the killed process stays down after the heal was due', async () => {
    const { part: p, marker } = part('victim operator');
    await p.start();
    assert.equal((await eventually(marker, (x) => x.length === 1)).length, 1);
    const ctl = new AbortController();
    const schedule = runSchedule([kill('victim operator', 0, 400)], new FaultInjector(networkOf(p), quiet), Date.now(), (_f, err) => assert.fail(String(err)), ctl.signal);
    assert.deepEqual(await eventually(marker, (x) => x.length === 0), [], 'the fault killed it');
    // What the runner does on SIGTERM: cancel, then stop the network (which seals every part).
    ctl.abort();
    await schedule;
    await p.close(1_000);
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual(await pgrep(marker), [], 'no orphan after the heal was due');
  });

  it('a sealed part does not start: a heal timer firing after the network stopped is a no-op', async () => {
    const { part: p, marker } = part('late operator');
    p.seal();
    await p.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await pgrep(marker), []);
    assert.equal(p.running(), false);
  });

  it('a start under way when the part is sealed kills what it spawned', async () => {
    const { part: p, marker } = part('racing operator');
    const starting = p.start();
    p.seal();
    await starting;
    // No stop here: the part itself must not have kept the child (after() stops whatever is left).
    assert.equal(p.running(), false);
    assert.deepEqual(await eventually(marker, (x) => x.length === 0), []);
  });
});
