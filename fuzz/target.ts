/**
 * What a fuzz target is: a name and a function that runs one generated case. A case that breaks
 * a property throws {@link Finding} (with the input that broke it); any other exception is a
 * crash and is reported as one too. Targets keep no state between cases except what `setup`
 * builds (keys, a loopback server), so any case can be replayed alone.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Rng } from './rng.ts';

/** A broken property: which one, what was seen, and the input that shows it. */
export class Finding extends Error {
  readonly property: string;
  readonly input: string;
  constructor(property: string, message: string, input: unknown) {
    super(`${property}: ${message}`);
    this.name = 'Finding';
    this.property = property;
    this.input = typeof input === 'string' ? input : JSON.stringify(input, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
  }
}

/** What a target's setup gets from the run. */
export interface TargetContext {
  /** A directory for temporary files that the run removes however it ends (fuzz/scratch.ts). @default none: the target makes its own under the OS temporary directory and removes it in teardown */
  readonly scratchDir?: string;
}

/** One fuzz target. */
export interface FuzzTarget {
  readonly name: string;
  /** What is generated and which properties are checked. */
  readonly description: string;
  /** Builds what every case shares (keys, servers); called once per worker. */
  setup?(ctx?: TargetContext): Promise<void>;
  /** Runs one case from its own generator. */
  run(rng: Rng): Promise<void> | void;
  /** Releases what setup built. */
  teardown?(): Promise<void>;
}

/** Throws a Finding unless `cond`. */
export function check(cond: boolean, property: string, message: string, input: unknown): asserts cond {
  if (!cond) throw new Finding(property, message, input);
}

/** Throws a Finding unless `a` and `b` are deeply equal. */
export function same(a: unknown, b: unknown, property: string, input: unknown): void {
  if (isDeepStrictEqual(a, b)) return;
  const d = firstDifference(a, b, '$');
  throw new Finding(property, `${d?.path ?? '$'}: ${short(d?.a ?? a)} ≠ ${short(d?.b ?? b)}`, input);
}

/** The first path at which `a` and `b` differ, with the two values there. */
export function firstDifference(a: unknown, b: unknown, path: string): { path: string; a: unknown; b: unknown } | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return { path, a, b };
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`);
    if (d !== undefined) return d;
  }
  return { path, a, b };
}

/** A value as at most 300 characters of JSON, for messages. */
export function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
