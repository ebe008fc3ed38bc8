/**
 * ScanStats: what a scan read and what it could not read. Bad lines are counted by reason and a
 * few of each are kept as samples (truncated) for the summary; they never stop a scan.
 */

/** Samples kept per rejection reason. */
export const SAMPLES_PER_REASON = 3;
/** Characters of a bad line kept in a sample. */
export const SAMPLE_CHARS = 160;

/** One kept bad line: its 1-based line number within the input (or shard) and its start. */
export interface LineSample {
  readonly line: number;
  readonly text: string;
}

/** Counters of one scan (or shard). */
export class ScanStats {
  /** Lines read (records, comments and headers, bad lines). */
  lines = 0;
  /** Uncompressed bytes read. */
  bytes = 0;
  /** Bad lines by reason. */
  readonly rejected: Record<string, number> = {};
  /** Up to SAMPLES_PER_REASON bad lines per reason. */
  readonly samples: Record<string, LineSample[]> = {};

  /** Counts a bad line; `text` is produced only when a sample is still wanted. */
  reject(reason: string, text: () => string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    const kept = (this.samples[reason] ??= []);
    if (kept.length < SAMPLES_PER_REASON) kept.push({ line: this.lines, text: text().slice(0, SAMPLE_CHARS) });
  }

  /** Total bad lines. */
  get rejectedTotal(): number {
    let n = 0;
    for (const v of Object.values(this.rejected)) n += v;
    return n;
  }

  /** Adds another shard's counters. */
  merge(o: ScanStats): void {
    this.lines += o.lines;
    this.bytes += o.bytes;
    for (const [k, v] of Object.entries(o.rejected)) this.rejected[k] = (this.rejected[k] ?? 0) + v;
    for (const [k, v] of Object.entries(o.samples)) {
      const kept = (this.samples[k] ??= []);
      for (const s of v) if (kept.length < SAMPLES_PER_REASON) kept.push(s);
    }
  }
}
