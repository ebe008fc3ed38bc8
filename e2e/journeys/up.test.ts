/**
 * Journey: README's run command on a machine with nothing configured. `threatmesh up
 * --until-ready --json` starts the local control plane and database (or uses KUBECONFIG), applies
 * the CRDs and samples, runs the operator, and exits 0 once every object is reconciled: the
 * offline Feeds ran and proposed signed indicators, the local voters' signatures approved them,
 * the sample indicator without a proposal signature still waits for votes, every PartnerNode is a
 * registered voter, and the processes it started are gone afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Row { kind: string; namespace: string; name: string; state: string; votes: string; quorum: string; ready: string; waitingFor?: string }
interface Event { event: string; message?: string; step?: number; objects?: Row[] | number; skipped?: Array<{ name: string }> }

const main = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-up-'));
const SAMPLE_TI = 'ipv4-a8bb8716e3f985d8dcee0380464f5dbb7622ee9b';

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Run { code: number | null; events: Event[]; stderr: string; pids: number[] }

/** Runs `up` to its end; while it runs, reads the pids it records so the test can check they stopped. */
async function runUp(): Promise<Run> {
  const child = spawn(process.execPath, [main, 'up', '--until-ready', '--json', '--dir', dir, '--timeout', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Event[] = [];
  let stderr = '';
  let pids: number[] = [];
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-20_000); });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const ev = JSON.parse(buf.slice(0, nl)) as Event;
      buf = buf.slice(nl + 1);
      events.push(ev);
      if (ev.event === 'step' && ev.step === 2) {
        void readFile(join(dir, 'controlplane.json'), 'utf8').then((t) => {
          pids = (JSON.parse(t) as { instances: Array<{ pids: number[] }> }).instances.flatMap((i) => i.pids);
        }, () => undefined);
      }
    }
  });
  const code = await new Promise<number | null>((res) => child.once('close', res));
  return { code, events, stderr, pids };
}

test('threatmesh up --until-ready brings the samples to their reconciled states and cleans up', async () => {
  const run = await runUp();
  assert.equal(run.code, 0, `up exited ${String(run.code)}; stderr tail:\n${run.stderr.slice(-3000)}\nlast events:\n${run.events.slice(-3).map((e) => JSON.stringify(e)).join('\n')}`);
  assert.deepEqual(run.events.filter((e) => e.event === 'step').map((e) => e.step), [1, 2, 3, 4, 5]);
  assert.ok(run.events.some((e) => e.event === 'ready'), 'a ready event');
  const skipped = run.events.find((e) => e.skipped)?.skipped?.map((s) => s.name) ?? [];
  assert.ok(skipped.includes('feodo') && skipped.includes('partner-cert-taxii'), `internet Feeds are skipped: ${skipped.join(', ')}`);

  const rows = run.events.filter((e) => e.event === 'objects').at(-1)?.objects;
  assert.ok(Array.isArray(rows), 'an objects snapshot');
  const of = (kind: string): Row[] => rows.filter((r) => r.kind === kind);
  assert.deepEqual(rows.filter((r) => r.waitingFor !== undefined), [], 'nothing still waiting');

  const feeds = of('feed');
  assert.deepEqual(feeds.map((f) => f.name).sort(), ['local-feodo', 'local-openphish']);
  for (const f of feeds) assert.match(f.state, /^idle \(last: Succeeded \d+\/\d+\)$/, `${f.name}: ${f.state}`);
  const proposed = feeds.reduce((n, f) => n + Number(/\/(\d+)\)$/.exec(f.state)?.[1] ?? NaN), 0);
  assert.equal(proposed, 8, 'feodo snapshot: 3 new (one duplicate, 8.8.8.8 on the warning list); openphish: 5 new');

  const pns = of('pn');
  assert.deepEqual(pns.map((p) => p.name).sort(), ['acme', 'globex', 'initech', 'sandbox-a', 'sandbox-b', 'sandbox-c']);
  for (const p of pns) assert.equal(p.ready, 'True VoterRegistered', p.name);

  const tis = of('ti');
  const approved = tis.filter((t) => t.state === 'Approved');
  assert.equal(approved.length, proposed, 'every proposed indicator was approved');
  for (const t of approved) assert.deepEqual([t.votes, t.quorum, t.ready], ['3+/0-', '3/3', 'True Approved'], t.name);
  const sample = tis.find((t) => t.name === SAMPLE_TI);
  assert.deepEqual(sample && [sample.state, sample.votes, sample.ready], ['Proposed', '0+/0-', 'False QuorumPending'], 'the unsigned sample indicator is not voted on');
  assert.equal(tis.length, proposed + 1);

  await assert.rejects(access(join(dir, 'controlplane.json')), 'the state file is removed on exit');
  assert.deepEqual(run.pids.filter(alive), [], 'the control plane processes are stopped');
});
