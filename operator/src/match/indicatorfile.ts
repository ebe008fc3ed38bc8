/**
 * Reads the indicators to match from the NDJSON that `threatmesh ingest --dry-run --output
 * ndjson` prints (one `{type, value, digest, pattern, ...}` object per line) into a snapshot.
 * Lines that are not such objects are counted by reason, never fatal; a file with no usable
 * indicator is a ScanError that says what to give instead.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { isIndicatorType } from '../domain/indicator.ts';
import { ScanError } from './errors.ts';
import { SnapshotBuilder, type MatcherSnapshot } from './snapshot.ts';

/** A loaded indicator file. */
export interface LoadedIndicators {
  readonly snapshot: MatcherSnapshot;
  readonly loaded: number;
  /** Lines not used, by reason (invalid-json, not-an-indicator, unsupported-type, invalid-value, invalid-digest). */
  readonly refused: Record<string, number>;
}

/** Adds one parsed NDJSON object to `b`; returns a refusal reason or undefined. */
export function addIndicatorObject(b: SnapshotBuilder, o: unknown): string | undefined {
  if (typeof o !== 'object' || o === null) return 'not-an-indicator';
  const r = o as Record<string, unknown>;
  const { type, value, digest } = r;
  if (typeof type !== 'string' || typeof value !== 'string' || typeof digest !== 'string') return 'not-an-indicator';
  if (!isIndicatorType(type)) return 'unsupported-type';
  return b.add({ type, value, digest });
}

/** Loads `path`; see the module doc. */
export async function loadIndicatorFile(path: string): Promise<LoadedIndicators> {
  const b = new SnapshotBuilder();
  const refused: Record<string, number> = {};
  let lines = 0;
  try {
    const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.trim() === '') continue;
      lines++;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        refused['invalid-json'] = (refused['invalid-json'] ?? 0) + 1;
        continue;
      }
      const why = addIndicatorObject(b, o);
      if (why !== undefined) refused[why] = (refused[why] ?? 0) + 1;
    }
  } catch (err) {
    throw new ScanError('bad-indicators', `cannot read --indicators ${path}: ${(err as Error).message}`);
  }
  if (b.count === 0) {
    throw new ScanError('bad-indicators', `--indicators ${path} has no usable indicator in ${lines} line(s) (${JSON.stringify(refused)}); give the NDJSON that 'threatmesh ingest --source FEED --format F --dry-run --output ndjson' prints`);
  }
  return { snapshot: b.build(), loaded: b.count, refused };
}
