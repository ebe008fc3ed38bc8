/**
 * A printed fault schedule, read back for `npm run chaos -- --schedule S`: the exact faults of a
 * trial, replayed on a fresh network. Two forms are read, both as a run prints them:
 * - the log's text, `+12.3s kill-operator partner-a operator for 5.0s; +20.0s clock-skew partner-b +30s for 8.2s`
 *   (what `fault schedule:` and a trial's first line show, in runs before and after this file);
 * - JSON, `[{"atMs":12300,"kind":"kill-operator","target":"partner-a operator","forMs":5000}]`
 *   (what the `replay:` command of a failed trial carries).
 * Either may be given inline or as a file holding it. Bad input is refused with the fault's
 * number, what is wrong and what a fault looks like; nothing is dropped or guessed.
 */
import { describeFault, FAULT_KINDS, type Fault, type FaultKind, type FaultSpace } from './faults.ts';

/** The largest clock skew a schedule may ask for, in seconds: the network's allowance. */
export const MAX_SKEW_SECONDS = 30;

const HOW = 'a schedule is the text a run prints ("+12.3s kill-operator partner-a operator for 5.0s; ...", or "none") or a JSON array of {"atMs","kind","target","forMs","skewSeconds"?}';
const TEXT_FAULT = /^\+(\d+(?:\.\d+)?)s\s+(\S+)\s+(.+?)(?:\s+([+-]\d+)s)?\s+for\s+(\d+(?:\.\d+)?)s$/;
const FIELDS = new Set(['atMs', 'kind', 'target', 'forMs', 'skewSeconds']);

/** Refusal of a schedule: says which fault, what is wrong, and what a schedule looks like. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(`--schedule: ${message}; ${HOW}`);
    this.name = 'ScheduleError';
  }
}

function isKind(k: unknown): k is FaultKind {
  return typeof k === 'string' && (FAULT_KINDS as readonly string[]).includes(k);
}

function kindOf(k: unknown, where: string): FaultKind {
  if (!isKind(k)) throw new ScheduleError(`${where}: unknown kind ${JSON.stringify(k)} (kinds: ${FAULT_KINDS.join(', ')})`);
  return k;
}

function ms(text: string): number {
  return Math.round(Number(text) * 1000);
}

// One fault as describeFault prints it; '->' may stand for '→' (easier to type).
function parseTextFault(text: string, n: number): Fault {
  const m = TEXT_FAULT.exec(text.trim());
  if (m === null) throw new ScheduleError(`fault ${n} ${JSON.stringify(text.trim())} is not "+SECONDSs KIND TARGET [±SKEWs] for SECONDSs"`);
  const kind = kindOf(m[2], `fault ${n}`);
  return checked({ atMs: ms(m[1]!), kind, target: m[3]!.replaceAll('->', '→'), forMs: ms(m[5]!), ...(m[4] !== undefined ? { skewSeconds: Number(m[4]) } : {}) }, n);
}

function parseJsonFault(v: unknown, n: number): Fault {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScheduleError(`fault ${n} is not an object: ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !FIELDS.has(k));
  if (extra.length > 0) throw new ScheduleError(`fault ${n} has unknown fields ${extra.join(', ')}`);
  const kind = kindOf(o['kind'], `fault ${n}`);
  if (typeof o['target'] !== 'string') throw new ScheduleError(`fault ${n} has no target text`);
  for (const f of ['atMs', 'forMs', ...(o['skewSeconds'] !== undefined ? ['skewSeconds'] : [])]) {
    if (typeof o[f] !== 'number') throw new ScheduleError(`fault ${n}: ${f} must be a number, got ${JSON.stringify(o[f])}`);
  }
  return checked({ atMs: o['atMs'] as number, kind, target: o['target'].replaceAll('->', '→'), forMs: o['forMs'] as number, ...(o['skewSeconds'] !== undefined ? { skewSeconds: o['skewSeconds'] as number } : {}) }, n);
}

// The checks every fault passes whatever its form: times, and a skew exactly on clock faults.
function checked(f: Fault, n: number): Fault {
  const what = `fault ${n} (${f.kind})`;
  if (!Number.isSafeInteger(f.atMs) || f.atMs < 0) throw new ScheduleError(`${what}: its start must be whole milliseconds from 0, got ${f.atMs}`);
  if (!Number.isSafeInteger(f.forMs) || f.forMs <= 0) throw new ScheduleError(`${what}: its duration must be whole milliseconds above 0, got ${f.forMs}`);
  if (f.target.trim() === '') throw new ScheduleError(`${what}: its target is empty`);
  if (f.kind === 'clock-skew') {
    if (f.skewSeconds === undefined || !Number.isInteger(f.skewSeconds) || f.skewSeconds === 0 || Math.abs(f.skewSeconds) > MAX_SKEW_SECONDS) {
      throw new ScheduleError(`${what}: needs a skew of whole seconds, not 0, within ±${MAX_SKEW_SECONDS} (such as +30s), got ${String(f.skewSeconds)}`);
    }
  } else if (f.skewSeconds !== undefined) {
    throw new ScheduleError(`${what}: only clock-skew faults have a skew`);
  }
  return f;
}

/** Reads a schedule in either printed form (see the file comment); throws {@link ScheduleError}. */
export function parseSchedule(text: string): Fault[] {
  const body = text.trim().replace(/^(fault schedule|faults):\s*/, '');
  if (body === '') throw new ScheduleError('the schedule is empty (write "none" for a trial without faults)');
  if (body === 'none') return [];
  if (body.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch (err) {
      throw new ScheduleError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!Array.isArray(doc)) throw new ScheduleError('the JSON is not an array');
    return doc.map((v, i) => parseJsonFault(v, i + 1));
  }
  return body.split(';').map((t, i) => parseTextFault(t, i + 1));
}

/** The schedule as JSON, exactly as {@link parseSchedule} reads it back. */
export function formatSchedule(faults: readonly Fault[]): string {
  return JSON.stringify(faults.map((f) => ({ atMs: f.atMs, kind: f.kind, target: f.target, forMs: f.forMs, ...(f.skewSeconds !== undefined ? { skewSeconds: f.skewSeconds } : {}) })));
}

/** The schedule as the log's text, as {@link parseSchedule} reads it back (times to 0.1 s). */
export function describeSchedule(faults: readonly Fault[]): string {
  return faults.map(describeFault).join('; ') || 'none';
}

/**
 * `--schedule`'s value: a schedule itself (text starting with `+`, JSON starting with `[`,
 * `none`, or either with its `fault schedule:` label), or else the path of a file holding one.
 */
export function readScheduleArg(arg: string, readText: (path: string) => string): Fault[] {
  const t = arg.trim();
  if (/^(\[|\+|none$|fault schedule:|faults:)/.test(t)) return parseSchedule(t);
  let text: string;
  try {
    text = readText(t);
  } catch (err) {
    throw new ScheduleError(`${JSON.stringify(arg)} is neither a schedule nor a file that can be read (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseSchedule(text);
}

function linkProblem(link: string, partners: readonly string[]): string | undefined {
  const [from, to, ...rest] = link.split('→');
  const ok = rest.length === 0 && to !== undefined && (
    (from === 'sequencer' && (to === 'apiserver' || to === 'mongodb')) ||
    (partners.includes(from!) && (['sequencer', 'apiserver', 'mongodb'].includes(to) || (partners.includes(to) && to !== from))));
  return ok ? undefined : `no link ${JSON.stringify(link)} (links: P→sequencer, P→apiserver, P→mongodb, P→Q, sequencer→apiserver, sequencer→mongodb; P, Q among ${partners.join(', ')})`;
}

// The process a kill names: "leader", "standby", or "<party> <process>" (the part's name).
function processProblem(f: Fault, partners: readonly string[]): string | undefined {
  if (f.kind === 'kill-sequencer-leader' || f.kind === 'kill-sequencer-standby') {
    const want = f.kind === 'kill-sequencer-leader' ? 'leader' : 'standby';
    return f.target === want ? undefined : `its target is "${want}"`;
  }
  const proc = f.kind === 'kill-operator' ? 'operator' : f.kind === 'kill-apiserver' ? 'kube-apiserver' : 'ferretdb';
  const parties = f.kind === 'kill-operator' ? partners : ['sequencer', ...partners];
  return parties.some((p) => f.target === `${p} ${proc}`) ? undefined : `its target is "P ${proc}", P among ${parties.join(', ')}`;
}

function targetProblem(f: Fault, partners: readonly string[]): string | undefined {
  switch (f.kind) {
    case 'kill-sequencer-leader':
    case 'kill-sequencer-standby':
    case 'kill-operator':
    case 'kill-apiserver':
    case 'kill-ferretdb': return processProblem(f, partners);
    case 'partition-blackhole':
    case 'partition-reset': return f.target.split(',').map((l) => linkProblem(l, partners)).find((p) => p !== undefined);
    case 'clock-skew':
    case 'disk-full': return partners.includes(f.target) ? undefined : `its target is a partner: ${partners.join(', ')}`;
  }
}

/**
 * What keeps `faults` from running on a network with `space`: unknown targets, and clock or
 * disk faults the machine cannot make. Empty when it can run.
 */
export function scheduleProblems(faults: readonly Fault[], space: FaultSpace): string[] {
  const out: string[] = [];
  for (const [i, f] of faults.entries()) {
    const what = `fault ${i + 1} (${describeFault(f)})`;
    const p = targetProblem(f, space.partners);
    if (p !== undefined) out.push(`${what}: ${p}`);
    if (f.kind === 'clock-skew' && !space.canSkew) out.push(`${what}: clock faults are disabled here: libfaketime not found (bash scripts/install-faketime.sh)`);
    if (f.kind === 'disk-full' && !space.canFillDisk) out.push(`${what}: disk faults are disabled here: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN)`);
  }
  return out;
}
