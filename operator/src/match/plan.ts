/**
 * Shard planning (pure): every input becomes one shard, or, when it is uncompressed and its size
 * is known and larger than the target, consecutive byte ranges of about `shardBytes` each (the
 * reader moves every boundary to the next line start: source.ts lineRange). Inputs are given
 * without credentials: a plan is stored in the database and read back by the shard's worker.
 */

/** One input as planned and stored: where it is, without credentials. */
export type PlannedInput =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string };

/** What the planner knows of an input. */
export interface InputFacts {
  readonly input: PlannedInput;
  /** Bytes as stored, when known. */
  readonly size: number | undefined;
  /** gzip/zstd inputs cannot be split. */
  readonly compressed: boolean;
}

/** One unit of work. */
export interface Shard {
  readonly index: number;
  readonly input: PlannedInput;
  /** Byte range [start, end) of an uncompressed input; absent: the whole input. */
  readonly range?: { readonly start: number; readonly end: number } | undefined;
  /** Bytes of input this shard reads (for progress), when known. */
  readonly bytes: number | undefined;
}

/** Default target shard size: 256 MiB. */
export const DEFAULT_SHARD_BYTES = 256 * 1024 * 1024;

/** The shards of `inputs`, indexed from 0 in input order; see the module doc. */
export function planShards(inputs: readonly InputFacts[], shardBytes = DEFAULT_SHARD_BYTES): Shard[] {
  const out: Shard[] = [];
  for (const f of inputs) {
    if (f.compressed || f.size === undefined || f.size <= shardBytes) {
      out.push({ index: out.length, input: f.input, bytes: f.size });
      continue;
    }
    const parts = Math.ceil(f.size / shardBytes);
    for (let k = 0; k < parts; k++) {
      const start = Math.floor((f.size * k) / parts);
      const end = Math.floor((f.size * (k + 1)) / parts);
      out.push({ index: out.length, input: f.input, range: { start, end }, bytes: end - start });
    }
  }
  return out;
}
