/** Shared helpers of the JSON-lines formats (Suricata eve.json, Zeek JSON). */
import type { ParseContext } from './parser.ts';

/** Parses one JSON-lines record; rejects the line (`invalid-json`) and returns undefined when it is not an object. */
export function parseRecord(ctx: ParseContext, line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through: counted below
  }
  ctx.stats.reject('invalid-json', () => line);
  return undefined;
}

/** The object at `key` of `o`, or undefined. */
export function objAt(o: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The string at `key` of `o`, or undefined. */
export function strAt(o: unknown, key: string): string | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/** The array at `key` of `o` (empty when absent). */
export function arrAt(o: unknown, key: string): unknown[] {
  if (typeof o !== 'object' || o === null) return [];
  const v = (o as Record<string, unknown>)[key];
  return Array.isArray(v) ? v : [];
}
