/**
 * Which voting rounds the partner's replica holds a decision for: an ADD entry (`indicators`,
 * the record keeps its round's window) or a REJECT entry (`rejections`). The partner exchange's
 * missing-decision check (exchange/partner/decisions.ts) asks it about the rounds it voted on.
 */
import type { Db } from 'mongodb';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';
import { REJECTIONS, type RejectionRecord } from './rejections.ts';

/** One logged round: the indicator digest and when its window opened. */
export interface LoggedRound {
  readonly digest: string;
  readonly opensAt: string;
}

/** The logged ADD and REJECT rounds of `digests` in the replica `db` (two reads, each by digest). */
export async function loggedRounds(db: Db, digests: readonly string[]): Promise<LoggedRound[]> {
  if (digests.length === 0) return [];
  const ids = [...new Set(digests)];
  const projection = { digest: 1, window: 1 } as const;
  const [adds, rejects] = await Promise.all([
    db.collection<IndicatorRecord>(INDICATORS).find({ _id: { $in: ids } }, { projection }).toArray(),
    db.collection<RejectionRecord>(REJECTIONS).find({ digest: { $in: ids } }, { projection }).toArray(),
  ]);
  const out: LoggedRound[] = [];
  for (const r of [...adds, ...rejects]) if (r.window !== undefined) out.push({ digest: r.digest, opensAt: r.window.opensAt });
  return out;
}
