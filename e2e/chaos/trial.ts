/**
 * One chaos trial: two partners ingest a feed each (10% overlap) while earlier admissions are
 * revoked and the trial's fault schedule runs; once every fault is healed the network must
 * converge, and then nothing may be lost, duplicated or diverged (check.ts). Everything random
 * comes from the trial's own generators, one per purpose, drawn from (seed, trial) alone: `--seed S
 * --from-trial T --trials 1` draws the same feeds and faults on a fresh network, and
 * `--schedule` replays a printed schedule exactly.
 */
import { hash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_VERSION, FEEDS } from '../../operator/src/api/schemas/index.ts';
import type { Feed } from '../../operator/src/api/types.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { NETWORK_NAMESPACE } from '../../operator/src/dev/sandbox/network.ts';
import { Rng } from '../../fuzz/rng.ts';
import { partnerCursor, partnerState, sequencerHead, sequencerState, verdict, type Expectation, type Verdict } from './check.ts';
import { waitForConvergence } from './wait.ts';
import { describeFault, drawSchedule, FaultInjector, runSchedule, type Fault, type FaultKind, type FaultSpace } from './faults.ts';
import { byPartner, logMarks, repairsSince, type DriftRepair } from './drift.ts';
import type { ChaosNetwork } from './network.ts';
import { revoke, type RevocationOutcome } from './revoke.ts';

/** Knobs of a trial. */
export interface TrialOptions {
  readonly seed: number;
  /** Indicators the trial's feeds carry. */
  readonly indicators: number;
  /** Revocations of earlier admissions per trial (at most what is active). */
  readonly revocations: number;
  /** Faults per trial: a range. */
  readonly faults: readonly [number, number];
  /** Faults start within this many ms of the trial's start. */
  readonly windowMs: number;
  /** How long the network may take to converge after the last heal. */
  readonly convergeTimeoutMs: number;
  readonly log: (m: string) => void;
  /** Aborted when the run is stopping: pending faults and heals are cancelled. @default never */
  readonly signal?: AbortSignal;
  /** The fault schedule to run instead of the drawn one (`--schedule`, a replay). @default drawn from (seed, trial) */
  readonly schedule?: readonly Fault[];
}

/** Indicators admitted by earlier trials and still active: what revocations pick from. */
export type ActiveSet = Map<string, Indicator>;

/** What a trial found. */
export interface TrialResult extends Verdict {
  readonly trial: number;
  readonly schedule: readonly Fault[];
  readonly faults: Partial<Record<FaultKind, number>>;
  readonly convergenceSeconds: number;
  readonly converged: boolean;
  readonly crashes: string[];
  readonly revocations: readonly RevocationOutcome[];
  readonly seconds: number;
  /** ThreatIndicators each partner's drift repair created again during the trial (drift.ts), every partner named. */
  readonly restored: Readonly<Record<string, number>>;
  /** ThreatIndicators each partner's drift repair rewrote during the trial because they differed from the log, every partner named. */
  readonly corrected: Readonly<Record<string, number>>;
  /** The drift repairs that restored or corrected any, with the objects' names. */
  readonly repairs: readonly DriftRepair[];
}

/** The trial's indicators: sha256 values no warning list holds, unique per seed and trial. */
function trialIndicators(seed: number, trial: number, n: number): Indicator[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'sha256' as const, value: hash('sha256', `threatmesh-chaos:${seed}:${trial}:${i}`, 'hex') }));
}

function feedObject(name: string, url: string): Feed {
  return {
    apiVersion: API_VERSION, kind: 'Feed', metadata: { name, namespace: NETWORK_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'threatmesh-chaos' } },
    spec: { url, format: 'lines', schedule: { interval: '2m' }, defaults: { confidence: 80, tlp: 'clear', validFor: '30d' } },
  };
}

async function withRetry<T>(what: string, fn: () => Promise<T>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Where the generators of a trial's choices are named: one per purpose, each from (seed, trial) alone. */
export const PLAN_STREAMS = { feeds: 'chaos-feeds', revokers: 'chaos-revokers', targets: 'chaos-targets', faults: 'chaos-faults' } as const;

/**
 * The trial's plan: feeds, revocations and fault schedule. Each purpose has its own generator
 * drawn from (seed, trial) only, so the feeds, the revokers and their moments, and the fault
 * schedule are the same whatever earlier trials admitted (a resumed run, a fresh network); only
 * which active indicators are revoked depends on the pool. `o.schedule` replaces the drawn
 * schedule (`--schedule`, a replay).
 */
export function planTrial(space: FaultSpace, trial: number, o: Pick<TrialOptions, 'seed' | 'indicators' | 'revocations' | 'faults' | 'windowMs' | 'schedule'>, active: ActiveSet) {
  const ids = space.partners;
  const inds = trialIndicators(o.seed, trial, o.indicators);
  const cut = Math.floor(o.indicators * 0.55);
  const overlap = Math.floor(o.indicators * 0.45);
  const feedRng = Rng.forCase(o.seed, PLAN_STREAMS.feeds, trial);
  const first = feedRng.pick(ids);
  const feedPartners = [first, feedRng.pick(ids.filter((x) => x !== first))];
  // Every revocation slot is drawn, used or not, so the slots do not depend on the pool's size.
  const revokerRng = Rng.forCase(o.seed, PLAN_STREAMS.revokers, trial);
  const slots = Array.from({ length: o.revocations }, () => {
    const a = revokerRng.pick(ids);
    return { proposer: a, second: revokerRng.pick(ids.filter((x) => x !== a)), atMs: revokerRng.int(o.windowMs) };
  });
  const targetRng = Rng.forCase(o.seed, PLAN_STREAMS.targets, trial);
  const pool = [...active.values()];
  const targets: Indicator[] = [];
  // Counted before drawing: the pool shrinks with each target (it once stopped at half a small pool).
  const n = Math.min(o.revocations, pool.length);
  while (targets.length < n) targets.push(pool.splice(targetRng.int(pool.length), 1)[0]!);
  const faultRng = Rng.forCase(o.seed, PLAN_STREAMS.faults, trial);
  const schedule = o.schedule ?? drawSchedule(faultRng, space, faultRng.range(o.faults[0], o.faults[1]), o.windowMs);
  return { inds, feeds: [{ partner: feedPartners[0]!, values: inds.slice(0, cut) }, { partner: feedPartners[1]!, values: inds.slice(overlap) }], targets, revokers: slots.slice(0, targets.length), schedule };
}

/** What the network lets a schedule use: its partners, and whether clocks and disks can be faulted. */
export function faultSpace(net: Pick<ChaosNetwork, 'partners' | 'canSkew'>): FaultSpace {
  return { partners: net.partners.map((p) => p.id), canSkew: net.canSkew, canFillDisk: net.partners.every((p) => p.cluster.disk !== undefined) };
}

/** Thrown by {@link runTrial} when its signal aborted (the run is stopping): the trial has no verdict. */
export class TrialCancelled extends Error {
  constructor(trial: number) {
    super(`trial ${trial} cancelled`);
    this.name = 'TrialCancelled';
  }
}

type Plan = ReturnType<typeof planTrial>;

/** Writes each feed's file and creates its Feed at its partner; returns the Feed names. */
async function createFeeds(net: ChaosNetwork, plan: Plan, trial: number): Promise<string[]> {
  const names = plan.feeds.map((_, k) => `chaos-t${trial}-${'ab'[k]}`);
  for (const [k, f] of plan.feeds.entries()) {
    const path = join(net.dir, `${names[k]}.txt`);
    await writeFile(path, f.values.map((i) => i.value).join('\n') + '\n');
    net.feedFiles.set(`${names[k]}.txt`, path);
    const party = net.partners.find((p) => p.id === f.partner)!;
    await withRetry(`create Feed ${names[k]}`, () => party.cluster.client.create(FEEDS, feedObject(names[k]!, new URL(`${names[k]}.txt`, net.feeds.baseUrl).href)));
  }
  return names;
}

/** Each planned revocation at its moment, by its two partners, acknowledged before `deadline` or reported. */
function revocations(net: ChaosNetwork, plan: Plan, trial: number, deadline: number): Promise<RevocationOutcome[]> {
  const key = (id: string): ChaosNetwork['partners'][number]['key'] => net.partners.find((p) => p.id === id)!.key;
  return Promise.all(plan.targets.map(async (ind, i) => {
    const r = plan.revokers[i]!;
    await new Promise((res) => setTimeout(res, r.atMs));
    return revoke(ind, { proposer: { key: key(r.proposer), client: await net.analyst(r.proposer) }, second: { key: key(r.second), client: await net.analyst(r.second) } }, `chaos trial ${trial}`, deadline);
  }));
}

/** Brings everything back: processes a supervisor has not restarted yet (a crash loop's backoff), links, disks, clocks. */
async function healAll(net: ChaosNetwork): Promise<void> {
  await Promise.all(net.parts().map((p) => p.start()));
  for (const l of net.links.values()) l.set('up');
  await Promise.all(net.partners.map(async (p) => {
    await p.cluster.disk?.free();
    if (net.canSkew) await net.skew(p.id, 0);
  }));
}

/** Waits for convergence, then for the clusters' objects to follow their databases; the verdict. */
async function settle(net: ChaosNetwork, exp: Expectation, digests: readonly string[], deadline: number, log: (m: string) => void): Promise<{ v: Verdict; done: boolean; waiting: string[] }> {
  const wait = await waitConverged(net, exp, digests, deadline, log);
  for (let lastLog = Date.now(); ; ) {
    const seq = await sequencerState(net, digests);
    const v = await verdict(net, exp, seq, await Promise.all(net.partners.map((p) => partnerState(p, digests))));
    if (!wait.done || v.lost + v.duplicated + v.diverged === 0 || Date.now() > deadline) return { v, done: wait.done, waiting: wait.waiting };
    // The databases agree; say what the clusters' objects still lack, as the wait above does.
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(`  waiting for the clusters' objects: lost ${v.lost}, duplicated ${v.duplicated}, diverged ${v.diverged}; ${v.problems.slice(0, 2).join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 5000));
  }
}

/** Exits since `from` that were not asked for. */
function crashesSince(net: ChaosNetwork, from: number): string[] {
  // Losing its Lease (its apiserver gone past the renew deadline) makes a process exit on purpose, as controller-runtime's managers do; the supervisor restarts it.
  return net.exits.slice(from).filter((e) => !/^(lost leadership|lost the Lease)/.test(e.why ?? ''))
    .map((e) => `${e.part} ${e.status} at ${e.at}: ${e.tail.split('\n').filter((l) => /"level":"(error|fatal)"|Error|panic/.test(l)).slice(-3).join(' | ')}`);
}

function countFaults(schedule: readonly Fault[]): Partial<Record<FaultKind, number>> {
  const faults: Partial<Record<FaultKind, number>> = {};
  for (const f of schedule) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  return faults;
}

/** Runs trial `trial` on `net`; updates `active` with what it admitted and revoked. Throws {@link TrialCancelled} when `o.signal` aborts during its faults. */
export async function runTrial(net: ChaosNetwork, trial: number, o: TrialOptions, active: ActiveSet): Promise<TrialResult> {
  const t0 = Date.now();
  const plan = planTrial(faultSpace(net), trial, o, active);
  o.log(`trial ${trial}: ${plan.inds.length} indicators via ${plan.feeds.map((f) => f.partner).join(' and ')}, ${plan.targets.length} revocations, faults: ${plan.schedule.map(describeFault).join('; ') || 'none'}`);
  const exitsBefore = net.exits.length;
  // Where this trial's log lines begin: a repair logged from here to the verdict's end is this trial's.
  const marks = await logMarks(net);
  const feedNames = await createFeeds(net, plan, trial);
  const started = Date.now();
  const errors: string[] = [];
  const schedule = runSchedule(plan.schedule, new FaultInjector(net, o.log), started, (f, err) => errors.push(`${describeFault(f)}: ${err instanceof Error ? err.message : String(err)}`), o.signal);
  const revoking = revocations(net, plan, trial, started + o.windowMs + o.convergeTimeoutMs / 2);
  await schedule;
  if (o.signal?.aborted === true) {
    // Its requests fail as the network stops under them: cancelled, not a failure.
    revoking.catch(() => undefined);
    throw new TrialCancelled(trial);
  }
  await healAll(net);
  const healedAt = Date.now();
  o.log(`trial ${trial}: every fault healed after ${((healedAt - started) / 1000).toFixed(1)} s; waiting for convergence`);
  const revoked = await revoking;
  const exp: Expectation = { indicators: new Map(plan.inds.map((i) => [indicatorDigest(i), i])), revoked: new Set(revoked.filter((r) => r.acknowledged).map((r) => r.digest)) };
  const digests = [...exp.indicators.keys(), ...plan.targets.map(indicatorDigest)];
  // The databases agree; the clusters' objects follow (each partner's sink writes them after its database).
  const { v, done, waiting } = await settle(net, exp, digests, healedAt + o.convergeTimeoutMs, o.log);
  const convergenceSeconds = (Date.now() - healedAt) / 1000;
  for (const r of revoked) if (!r.acknowledged) v.problems.push(`revocation of ${r.digest} not acknowledged: ${r.problem ?? ''}`);
  v.problems.push(...errors.map((e) => `fault: ${e}`));
  if (!done) v.problems.push(`not converged ${o.convergeTimeoutMs / 1000} s after the last heal: ${waiting.join('; ')}`);
  await Promise.all(plan.feeds.map((f, k) => withRetry(`delete Feed ${feedNames[k]}`, () => net.partners.find((p) => p.id === f.partner)!.cluster.client.delete(FEEDS, feedNames[k]!, NETWORK_NAMESPACE))));
  for (const i of plan.inds) active.set(indicatorDigest(i), i);
  for (const d of exp.revoked) active.delete(d);
  const repairs = await repairsSince(net, marks);
  const partners = net.partners.map((p) => p.id);
  return {
    ...v, trial, schedule: plan.schedule, faults: countFaults(plan.schedule), convergenceSeconds, converged: done, crashes: crashesSince(net, exitsBefore), revocations: revoked, seconds: (Date.now() - t0) / 1000,
    restored: byPartner(partners, repairs), corrected: byPartner(partners, repairs, 'corrected'), repairs,
  };
}

function waitConverged(net: ChaosNetwork, exp: Expectation, digests: readonly string[], deadline: number, log: (m: string) => void): Promise<{ done: boolean; seconds: number; waiting: string[] }> {
  return waitForConvergence({
    head: () => sequencerHead(net),
    cursors: () => Promise.all(net.partners.map(partnerCursor)),
    log: () => sequencerState(net, digests),
  }, exp, deadline, log);
}
