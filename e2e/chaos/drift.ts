/**
 * What each partner's periodic drift repair restored during a trial (docs/adr/2026-12-07-chaos-drift-repairs.md):
 * a ThreatIndicator the repair had to create again was missing from a working set that the
 * replica's sink and the restarted process's resume are meant to keep whole, so a trial in which
 * one ran fails, naming the objects. Read from the operator's JSON log, not its metrics: the log
 * file is appended by every process the trial kills and restarts (a counter starts again at 0,
 * and cannot be read while the operator is down), and it is cut by byte offset, not by the
 * lines' timestamps, which a clock-skew fault moves.
 */
import { open, stat } from 'node:fs/promises';
import type { ChaosNetwork } from './network.ts';

/** One drift repair that restored objects. */
export interface DriftRestore {
  readonly partner: string;
  /** The log line's time (the partner's clock, skewed or not). */
  readonly at: string;
  readonly restored: number;
  /** The first restored objects' names (the operator logs at most 20). */
  readonly names: readonly string[];
}

/** Each partner's log size: where a trial's lines begin. */
export type LogMarks = ReadonlyMap<string, number>;

/** The drift repairs in `text` (an operator's JSON log lines) that restored objects; lines cut short or not JSON are skipped. */
export function driftRestores(partner: string, text: string): DriftRestore[] {
  const out: DriftRestore[] = [];
  for (const line of text.split('\n')) {
    // A repair the exchange's stop cut short logs what it restored under its own message.
    if (!line.includes('"msg":"drift repair"') && !line.includes('"msg":"drift repair stopped with the exchange"')) continue;
    let rec: { ts?: unknown; restored?: unknown; restoredNames?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      // A line cut by kill -9: its repair did not finish logging.
      continue;
    }
    if (typeof rec.restored !== 'number' || rec.restored === 0) continue;
    const listed: readonly unknown[] = Array.isArray(rec.restoredNames) ? (rec.restoredNames as unknown[]) : [];
    const names = listed.filter((n): n is string => typeof n === 'string');
    out.push({ partner, at: typeof rec.ts === 'string' ? rec.ts : '?', restored: rec.restored, names });
  }
  return out;
}

/** Objects restored per partner (every partner named, 0 when none). */
export function restoredByPartner(partners: readonly string[], restores: readonly DriftRestore[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(partners.map((p) => [p, 0]));
  for (const r of restores) out[r.partner] = (out[r.partner] ?? 0) + r.restored;
  return out;
}

/** One line per restoring repair, for the trial's report. */
export function describeRestores(restores: readonly DriftRestore[]): string[] {
  return restores.map((r) => `restored: ${r.partner}'s drift repair at ${r.at} created ${r.restored} missing ThreatIndicators again${r.names.length > 0 ? ` (${r.names.join(', ')}${r.names.length < r.restored ? ', ...' : ''})` : ''}`);
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

/** The restoring drift repairs each partner logged since `marks`. */
export async function restoresSince(net: Pick<ChaosNetwork, 'partners'>, marks: LogMarks): Promise<DriftRestore[]> {
  const each = await Promise.all(net.partners.map(async (p) => driftRestores(p.id, await linesSince(logPath(p), marks.get(p.id) ?? 0))));
  return each.flat();
}
