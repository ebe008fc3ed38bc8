/**
 * An in-memory {@link IndicatorReader} with the same contract as the MongoDB one
 * (store/servedindicators.ts), for the views' unit tests and the shared backend test table.
 */
import type { IndicatorReader, ServedRecord, VersionPage, VersionQuery, VersionRow } from './record.ts';
import { stixIdOfDigest } from './stixview.ts';
import { mayReceive, type Tlp } from './tlp.ts';
import { rowsOf } from './taxiilist.ts';

/** Records in memory; `watermark` defaults to one past the highest index. */
export class MemoryIndicatorReader implements IndicatorReader {
  records: ServedRecord[];
  fixedWatermark: number | undefined;

  constructor(records: ServedRecord[] = [], watermark?: number) {
    this.records = records;
    this.fixedWatermark = watermark;
  }

  watermark(): Promise<number> {
    const top = Math.max(-1, ...this.records.flatMap((r) => [r.logIndex, r.revokedAtIndex ?? -1]));
    return Promise.resolve(this.fixedWatermark ?? top + 1);
  }

  versions(q: VersionQuery, watermark: number): Promise<VersionPage> {
    const rows = this.records
      .filter((r) => mayReceive(q.tlps, r.meta?.tlp) && (q.source === undefined || r.meta?.source === q.source))
      .flatMap(rowsOf)
      .filter((row) => row.index > q.after && row.index < watermark && inView(q, row) && addedAfter(q, row))
      .sort((a, b) => a.index - b.index);
    return Promise.resolve({ rows: rows.slice(0, q.limit), more: rows.length > q.limit });
  }

  byStixId(stixId: string, tlps: readonly Tlp[]): Promise<ServedRecord | undefined> {
    return Promise.resolve(this.records.find((r) => stixIdOfDigest(r.digest) === stixId && mayReceive(tlps, r.meta?.tlp)));
  }

  sources(tlps: readonly Tlp[]): Promise<string[]> {
    return Promise.resolve([...new Set(this.records.filter((r) => mayReceive(tlps, r.meta?.tlp)).map((r) => r.meta?.source).filter((s) => s !== undefined))].sort());
  }
}

function inView(q: VersionQuery, row: VersionRow): boolean {
  if (q.view === 'all') return true;
  if (q.view === 'first') return row.kind === 'add';
  return row.kind === 'revoke' || row.record.state === 'active';
}

function addedAfter(q: VersionQuery, row: VersionRow): boolean {
  if (q.addedAfter === undefined) return true;
  const at = row.kind === 'add' ? row.record.addedAt : (row.record.revokedAt ?? row.record.addedAt);
  return at.getTime() > q.addedAfter.getTime();
}
