/**
 * Faults of the chaos run: which kinds exist, how a trial's schedule is drawn from its own
 * generator (schedule.ts reads a printed one back for `--schedule`), and how each
 * fault is injected and healed on the running network. Overlapping faults on one target are
 * counted: a killed process restarts, a cut link heals, a skewed clock returns and a full disk
 * is freed only when the last fault holding it ends.
 */
import type { Rng } from '../../fuzz/rng.ts';
import type { ChaosNetwork } from './network.ts';
import type { LinkState } from './link.ts';
import type { Part } from './parts.ts';

/** Every kind of fault. */
export const FAULT_KINDS = [
  'kill-sequencer-leader', 'kill-sequencer-standby', 'kill-operator', 'kill-apiserver', 'kill-ferretdb',
  'partition-blackhole', 'partition-reset', 'clock-skew', 'disk-full',
] as const;

/** A kind of fault. */
export type FaultKind = typeof FAULT_KINDS[number];

/** One scheduled fault: when (ms after the trial started), what, on which target, for how long. */
export interface Fault {
  readonly atMs: number;
  readonly kind: FaultKind;
  /** A part name, a partner id (clock, disk), or the links cut (partition). */
  readonly target: string;
  readonly forMs: number;
  /** Clock skew in seconds (clock-skew only). */
  readonly skewSeconds?: number;
}

/** What the schedule may use: the parties, and whether clocks and disks can be faulted here. */
export interface FaultSpace {
  readonly partners: readonly string[];
  readonly canSkew: boolean;
  readonly canFillDisk: boolean;
}

const WEIGHTS: ReadonlyArray<readonly [FaultKind, number]> = [
  ['kill-sequencer-leader', 3], ['kill-sequencer-standby', 1], ['kill-operator', 3], ['kill-apiserver', 2], ['kill-ferretdb', 2],
  ['partition-blackhole', 3], ['partition-reset', 2], ['clock-skew', 2], ['disk-full', 2],
];

/** The clock skews a schedule draws, in seconds (within the network's ±30 s allowance). */
export const SKEWS: readonly number[] = [-30, -20, -10, 10, 20, 30];

function pickKind(rng: Rng, space: FaultSpace): FaultKind {
  const usable = WEIGHTS.filter(([k]) => (k !== 'clock-skew' || space.canSkew) && (k !== 'disk-full' || space.canFillDisk));
  let n = rng.int(usable.reduce((s, [, w]) => s + w, 0));
  for (const [k, w] of usable) {
    if (n < w) return k;
    n -= w;
  }
  return 'kill-operator';
}

/** The links a partition cuts: one link, or every link of one party. */
function partitionTarget(rng: Rng, partners: readonly string[]): string {
  const p = rng.pick(partners);
  const peers = partners.filter((x) => x !== p);
  switch (rng.int(6)) {
    case 0: return `${p}→sequencer`;
    case 1: return `${p}→${rng.pick(peers)}`;
    case 2: return `${p}→apiserver`;
    case 3: return `${p}→mongodb`;
    case 4: return rng.chance(0.5) ? 'sequencer→apiserver' : 'sequencer→mongodb';
    default: return [`${p}→sequencer`, ...peers.flatMap((q) => [`${p}→${q}`, `${q}→${p}`])].join(',');
  }
}

function target(rng: Rng, kind: FaultKind, partners: readonly string[]): string {
  const p = rng.pick(partners);
  switch (kind) {
    case 'kill-sequencer-leader': return 'leader';
    case 'kill-sequencer-standby': return 'standby';
    case 'kill-operator': return `${p} operator`;
    case 'kill-apiserver': return `${rng.chance(0.25) ? 'sequencer' : p} kube-apiserver`;
    case 'kill-ferretdb': return `${rng.chance(0.25) ? 'sequencer' : p} ferretdb`;
    case 'partition-blackhole':
    case 'partition-reset': return partitionTarget(rng, partners);
    case 'clock-skew':
    case 'disk-full': return p;
  }
}

/** The step of a fault's times: what {@link describeFault} prints (0.1 s), so a printed schedule is exact. */
export const FAULT_STEP_MS = 100;

/** Draws `count` faults starting within `windowMs`, each lasting 1–25 s, on a 0.1 s grid (sorted by start). */
export function drawSchedule(rng: Rng, space: FaultSpace, count: number, windowMs: number): Fault[] {
  const out: Fault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pickKind(rng, space);
    const atMs = rng.int(Math.max(1, Math.floor(windowMs / FAULT_STEP_MS))) * FAULT_STEP_MS;
    const f: Fault = { atMs, kind, target: target(rng, kind, space.partners), forMs: rng.range(10, 250) * FAULT_STEP_MS, ...(kind === 'clock-skew' ? { skewSeconds: rng.pick(SKEWS) } : {}) };
    out.push(f);
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** Renders a fault for logs and replay notes. */
export function describeFault(f: Fault): string {
  return `+${(f.atMs / 1000).toFixed(1)}s ${f.kind} ${f.target}${f.skewSeconds !== undefined ? ` ${f.skewSeconds > 0 ? '+' : ''}${f.skewSeconds}s` : ''} for ${(f.forMs / 1000).toFixed(1)}s`;
}

/** Applies faults to a network and heals them, holding counts per target. */
export class FaultInjector {
  readonly #net: ChaosNetwork;
  readonly #log: (m: string) => void;
  readonly #down = new Map<Part, number>();
  readonly #cut = new Map<string, LinkState[]>();
  readonly #skews = new Map<string, number[]>();
  readonly #full = new Map<string, number>();

  constructor(net: ChaosNetwork, log: (m: string) => void) {
    this.#net = net;
    this.#log = log;
  }

  /** Injects `f` now; resolves with the function that heals it. */
  async inject(f: Fault): Promise<() => Promise<void>> {
    this.#log(`inject ${describeFault(f)}`);
    if (f.kind.startsWith('kill-')) return this.#kill(await this.#part(f));
    if (f.kind === 'partition-blackhole' || f.kind === 'partition-reset') return this.#partition(f.target.split(','), f.kind === 'partition-reset' ? 'reset' : 'blackhole');
    if (f.kind === 'clock-skew') return this.#skew(f.target, f.skewSeconds ?? 0);
    return this.#fill(f.target);
  }

  async #part(f: Fault): Promise<Part> {
    if (f.target === 'leader' || f.target === 'standby') {
      const leader = await this.#net.leader();
      const replicas = this.#net.sequencer.processes;
      const pick = f.target === 'leader' ? leader ?? replicas[0]! : replicas.find((r) => r !== leader) ?? replicas[1]!;
      return pick;
    }
    const p = this.#net.parts().find((x) => x.name === f.target);
    if (p === undefined) throw new Error(`no process ${f.target}`);
    return p;
  }

  async #kill(p: Part): Promise<() => Promise<void>> {
    this.#down.set(p, (this.#down.get(p) ?? 0) + 1);
    await p.kill();
    return async () => {
      const n = (this.#down.get(p) ?? 1) - 1;
      this.#down.set(p, n);
      if (n === 0) {
        this.#log(`heal: start ${p.name}`);
        await p.start();
      }
    };
  }

  #apply(name: string): void {
    const states = this.#cut.get(name) ?? [];
    this.#net.links.get(name)?.set(states.includes('reset') ? 'reset' : states.includes('blackhole') ? 'blackhole' : 'up');
  }

  #partition(names: readonly string[], state: LinkState): Promise<() => Promise<void>> {
    for (const n of names) {
      if (!this.#net.links.has(n)) throw new Error(`no link ${n}`);
      this.#cut.set(n, [...(this.#cut.get(n) ?? []), state]);
      this.#apply(n);
    }
    return Promise.resolve(() => {
      for (const n of names) {
        const states = this.#cut.get(n) ?? [];
        states.splice(states.indexOf(state), 1);
        this.#apply(n);
      }
      this.#log(`heal: links ${names.join(', ')}`);
      return Promise.resolve();
    });
  }

  async #skew(partner: string, seconds: number): Promise<() => Promise<void>> {
    const list = [...(this.#skews.get(partner) ?? []), seconds];
    this.#skews.set(partner, list);
    await this.#net.skew(partner, seconds);
    return async () => {
      const rest = this.#skews.get(partner) ?? [];
      rest.splice(rest.indexOf(seconds), 1);
      await this.#net.skew(partner, rest.at(-1) ?? 0);
      this.#log(`heal: clock of ${partner} ${rest.at(-1) ?? 0}s`);
    };
  }

  async #fill(partner: string): Promise<() => Promise<void>> {
    const disk = this.#net.partners.find((p) => p.id === partner)?.cluster.disk;
    if (disk === undefined) throw new Error(`no tmpfs disk for ${partner}`);
    this.#full.set(partner, (this.#full.get(partner) ?? 0) + 1);
    try {
      await disk.fill();
    } catch (err) {
      this.#full.set(partner, (this.#full.get(partner) ?? 1) - 1);
      if (this.#full.get(partner) === 0) await disk.free();
      throw err;
    }
    return async () => {
      const n = (this.#full.get(partner) ?? 1) - 1;
      this.#full.set(partner, n);
      if (n === 0) {
        await disk.free();
        this.#log(`heal: freed the disk of ${partner}`);
      }
    };
  }
}

/** What {@link runSchedule} injects faults through (a {@link FaultInjector}). */
export interface Injector {
  inject(f: Fault): Promise<() => Promise<void>>;
}

/**
 * Runs a schedule: injects each fault at its time and heals it after its duration; resolves when
 * all are healed. When `signal` aborts (the run is stopping) every pending timer is cancelled at
 * once: faults not yet injected never are, and no heal runs (a heal restarts processes the
 * network is about to stop); it resolves as soon as the injections under way have returned.
 */
export async function runSchedule(faults: readonly Fault[], inj: Injector, startedAt: number, onError: (f: Fault, err: unknown) => void, signal?: AbortSignal): Promise<void> {
  await Promise.all(faults.map(async (f) => {
    await sleep(startedAt + f.atMs - Date.now(), signal);
    if (aborted(signal)) return;
    let heal: (() => Promise<void>) | undefined;
    try {
      heal = await inj.inject(f);
    } catch (err) {
      onError(f, err);
      return;
    }
    await sleep(f.forMs, signal);
    if (aborted(signal)) return;
    await heal().catch((err: unknown) => onError(f, err));
  }));
}

// A function, so the check is made again after each await (a property test would stay narrowed).
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Waits `ms` (at least 0), or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}
