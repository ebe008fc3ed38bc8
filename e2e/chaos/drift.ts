/**
 * What each partner's periodic drift repair restored or corrected during a trial
 * (docs/adr/2026-12-07-chaos-drift-repairs.md): a ThreatIndicator the repair had to create again
 * was missing from a working set that the replica's sink and the restarted process's resume are
 * meant to keep whole, and one it had to rewrite (its spec recreated, or owned status fields
 * patched) differed from the log after the sink had written it; either is a divergence the repair
 * hid, so a trial in which one ran fails, naming the objects. Read from the operator's JSON log,
 * not its metrics: the log file is appended by every process the trial kills and restarts (a
 * counter starts again at 0, and cannot be read while the operator is down), and it is cut by
 * byte offset, not by the lines' timestamps, which a clock-skew fault moves.
 */
import { open, stat } from 'node:fs/promises';
import type { ChaosNetwork } from './network.ts';

/** One drift repair that restored or corrected objects. */
export interface DriftRepair {
  readonly partner: string;
  /** The log line's time (the partner's clock, skewed or not). */
  readonly at: string;
  readonly restored: number;
  /** The first restored objects' names (the operator logs at most 20). */
  readonly names: readonly string[];
  /** Objects rewritten because they differed from the log. */
  readonly corrected: number;
  /** Of those, how many had their spec recreated (the rest: owned status fields patched); undefined when the operator did not log it. */
  readonly recreated: number | undefined;
  /** The first corrected objects' names (the operator logs at most 20). */
  readonly correctedNames: readonly string[];
}

/** Each partner's log size: where a trial's lines begin. */
export type LogMarks = ReadonlyMap<string, number>;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? (v as unknown[]).filter((n): n is string => typeof n === 'string') : [];
}

function count(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

/** The drift repairs in `text` (an operator's JSON log lines) that restored or corrected objects; lines cut short or not JSON are skipped. */
export function driftRepairs(partner: string, text: string): DriftRepair[] {
  const out: DriftRepair[] = [];
  for (const line of text.split('\n')) {
    // A repair the exchange's stop cut short logs what it did under its own message.
    if (!line.includes('"msg":"drift repair"') && !line.includes('"msg":"drift repair stopped with the exchange"')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // A line cut by kill -9: its repair did not finish logging.
      continue;
    }
    const restored = count(rec['restored']);
    const corrected = count(rec['corrected']);
    if (restored === 0 && corrected === 0) continue;
    const recreated = typeof rec['recreated'] === 'number' ? rec['recreated'] : undefined;
    out.push({ partner, at: typeof rec['ts'] === 'string' ? rec['ts'] : '?', restored, names: strings(rec['restoredNames']), corrected, recreated, correctedNames: strings(rec['correctedNames']) });
  }
  return out;
}

/** Objects restored (or, with `what` 'corrected', corrected) per partner (every partner named, 0 when none). */
export function byPartner(partners: readonly string[], repairs: readonly DriftRepair[], what: 'restored' | 'corrected' = 'restored'): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(partners.map((p) => [p, 0]));
  for (const r of repairs) out[r.partner] = (out[r.partner] ?? 0) + r[what];
  return out;
}

function named(names: readonly string[], n: number): string {
  return names.length > 0 ? ` (${names.join(', ')}${names.length < n ? ', ...' : ''})` : '';
}

/** One line per restore and one per correction of each repair, for the trial's report. */
export function describeRepairs(repairs: readonly DriftRepair[]): string[] {
  return repairs.flatMap((r) => [
    ...(r.restored > 0 ? [`restored: ${r.partner}'s drift repair at ${r.at} created ${r.restored} missing ThreatIndicators again${named(r.names, r.restored)}`] : []),
    ...(r.corrected > 0 ? [`corrected: ${r.partner}'s drift repair at ${r.at} rewrote ${r.corrected} ThreatIndicators that differed from the log${r.recreated !== undefined ? ` (${r.recreated} with another spec)` : ''}${named(r.correctedNames, r.corrected)}`] : []),
  ]);
}

function logPath(p: ChaosNetwork['partners'][number]): string {
  return p.processes[0]!.spec.logPath;
}

/** Each partner operator's log size now. */
export async function logMarks(net: Pick<ChaosNetwork, 'partners'>): Promise<LogMarks> {
  return new Map(await Promise.all(net.partners.map(async (p) => [p.id, await stat(logPath(p)).then((s) => s.size, () => 0)] as const)));
}

// Whole lines from byte `from`: a line still being written is left out.
async function linesSince(path: string, from: number): Promise<string> {
  const f = await open(path, 'r').catch(() => undefined);
  if (f === undefined) return '';
  try {
    const size = (await f.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    await f.read(buf, 0, buf.length, from);
    const text = buf.toString('utf8');
    return text.slice(0, text.lastIndexOf('\n') + 1);
  } finally {
    await f.close();
  }
}

/** The restoring or correcting drift repairs each partner logged since `marks`. */
export async function repairsSince(net: Pick<ChaosNetwork, 'partners'>, marks: LogMarks): Promise<DriftRepair[]> {
  const each = await Promise.all(net.partners.map(async (p) => driftRepairs(p.id, await linesSince(logPath(p), marks.get(p.id) ?? 0))));
  return each.flat();
}
