/**
 * Decompression of fetched payloads (feeds/decompress.ts), the layer every feed's bytes pass
 * before a parser sees them: Content-Encoding gzip/deflate/br (contentDecode) and sniffed gzip,
 * zstd and zip (unpack), under a decompressed-size limit, as fetch.ts chains them. Payloads are
 * feed-like text or bombs (one repeated byte, tiny when compressed), compressed, and often
 * spoiled at the byte level (flips, inserts, cuts). Properties: the run ends with the bytes or a
 * FeedError (any other exception is a crash); an intact payload gives exactly the original, or
 * `too-large` when the original is over the limit; no run yields more than the limit; a payload
 * whose format carries a checksum (gzip's CRC-32, zlib's Adler-32) is never accepted with other
 * bytes; whole and chunked payloads give the same answer; a zip's spooled file is always removed.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { contentDecode, limitBytes, sniffContainer, unpack, type SizeLimits } from '../../operator/src/feeds/decompress.ts';
import { FeedError } from '../../operator/src/feeds/types.ts';
import { genValue } from '../gen.ts';
import { mutateBytes, randomChunks } from '../mutate.ts';
import type { Rng } from '../rng.ts';
import { check, Finding, same, type FuzzTarget, type TargetContext } from '../target.ts';
import { sourceOf } from './feedcheck.ts';
import { zipOf } from '../../e2e/harness/zip.ts';

const KINDS = ['gzip', 'zstd', 'zip', 'plain', 'ce-gzip', 'ce-deflate', 'ce-br'] as const;
type Kind = (typeof KINDS)[number];
/** Formats whose trailer checks the decompressed bytes: nothing else may come out of them. */
const CHECKED: ReadonlySet<Kind> = new Set(['gzip', 'ce-gzip', 'ce-deflate']);

function genPlain(rng: Rng): Buffer {
  if (rng.chance(0.15)) return Buffer.alloc(rng.pick([100, 5000, 200_000, 2_000_000]), rng.pick(['a', '\0', '0']));
  const lines = Array.from({ length: rng.small(60) }, () => genValue(rng).raw);
  return Buffer.from(lines.join(rng.chance(0.5) ? '\n' : '\r\n').toWellFormed(), 'utf8');
}

function compress(rng: Rng, kind: Kind, data: Buffer): Buffer {
  switch (kind) {
    case 'gzip': case 'ce-gzip': return gzipSync(data);
    case 'zstd': return zstdCompressSync(data);
    case 'zip': return zipOf(rng.chance(0.9) ? [['feed.txt', data]] : [['readme.txt', Buffer.from('x')], ['feed.txt', data]], rng.chance(0.8));
    case 'ce-deflate': return deflateSync(data);
    // Quality 11 (the default) takes seconds on a bomb; the decoder does not care.
    case 'ce-br': return brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } });
    case 'plain': return data;
  }
}

type Outcome = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly code: string };

/** Decodes `chunks` as fetch.ts does (Content-Encoding, limit, unpack); a non-FeedError is a crash. */
async function decode(kind: Kind, chunks: readonly Buffer[], limits: SizeLimits, input: string): Promise<Outcome> {
  const encoding = kind.startsWith('ce-') ? kind.slice(3) : undefined;
  const out: Buffer[] = [];
  let n = 0;
  try {
    const decoded = limitBytes(contentDecode(sourceOf(chunks) as AsyncIterable<Buffer>, encoding), limits.maxDecompressedBytes, 'the decoded download');
    for await (const b of unpack(decoded, limits)) {
      out.push(b);
      n += b.length;
      check(n <= limits.maxDecompressedBytes, 'limit', `${n} bytes came out, over the limit of ${limits.maxDecompressedBytes}`, input);
    }
    return { ok: true, bytes: Buffer.concat(out) };
  } catch (err) {
    if (err instanceof Finding) throw err;
    if (err instanceof FeedError) return { ok: false, code: err.code };
    throw new Finding('crash', err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err), input);
  }
}

interface State { dir: string }
const state: State = { dir: '' };

interface Checked { readonly kind: Kind; readonly original: Buffer; readonly payload: Buffer; readonly spoiled: boolean; readonly limits: SizeLimits; readonly members: number; readonly whole: Outcome }

/** An intact payload gives its original, or the refusal its size or its members call for. */
function checkIntact(c: Checked, input: string): void {
  const { kind, original, payload, limits, whole } = c;
  // An intact "plain" payload whose first bytes are a gzip, zstd or zip signature by chance is not plain.
  if (kind === 'plain' && sniffContainer(original) !== 'plain') return;
  // In the order the product meets them: the download after Content-Encoding is limited too (a
  // sniffed container counts compressed); a zip of several members must name one; then the output.
  const max = limits.maxDecompressedBytes;
  const refusal = !kind.startsWith('ce-') && payload.length > max ? 'too-large' : c.members > 1 && limits.zipMember === undefined ? 'bad-archive' : original.length > max ? 'too-large' : undefined;
  if (refusal !== undefined) same(whole.ok ? 'ok' : whole.code, refusal, 'refusal', input);
  else check(whole.ok && whole.bytes.equals(original), 'intact', `an intact ${kind} payload gave ${whole.ok ? `${whole.bytes.length} other bytes` : whole.code}`, input);
}

/** The properties of the whole-payload outcome (chunking is checked by the caller). */
function checkOutcome(c: Checked, input: string): void {
  if (!c.spoiled) {
    checkIntact(c, input);
    return;
  }
  const { kind, whole } = c;
  // A sniffed gzip payload whose signature was spoiled is plain data, rightly passed through.
  if (!whole.ok || !CHECKED.has(kind) || (kind === 'gzip' && sniffContainer(c.payload) !== 'gzip')) return;
  check(whole.bytes.equals(c.original), 'checksum', `a spoiled ${kind} payload was accepted as ${whole.bytes.length} bytes that are not the original`, input);
}

async function run(rng: Rng): Promise<void> {
  const kind = rng.pick(KINDS);
  const original = genPlain(rng);
  const intact = compress(rng, kind, original);
  const spoiled = rng.chance(0.6);
  const payload = spoiled ? mutateBytes(rng, intact) : intact;
  const members = kind === 'zip' ? intact.readUInt16LE(intact.length - 12) : 1;
  const limits: SizeLimits = { maxBytes: 1 << 22, maxDecompressedBytes: rng.pick([64, 4096, 1 << 20]), tmpDir: state.dir, ...(members > 1 && rng.chance(0.5) ? { zipMember: 'feed.txt' } : {}) };
  const input = JSON.stringify({ kind, limit: limits.maxDecompressedBytes, payload: payload.toString('base64').slice(0, 4000) });
  const whole = await decode(kind, [payload], limits, input);
  const pieces = payload.length <= 4096 ? randomChunks(rng, payload) : [payload.subarray(0, payload.length >> 1), payload.subarray(payload.length >> 1)];
  const split = await decode(kind, pieces, limits, input);
  // A payload both over a limit and corrupt may be refused for either, whichever the chunks show first.
  const eitherRefusal = !whole.ok && !split.ok && (whole.code === 'too-large' || split.code === 'too-large');
  if (!eitherRefusal) same(split.ok ? split.bytes.toString('base64') : split.code, whole.ok ? whole.bytes.toString('base64') : whole.code, 'chunking', input);
  if (kind === 'zip') same(await readdir(state.dir), [], 'spool-removed', input);
  checkOutcome({ kind, original, payload, spoiled, limits, members, whole }, input);
}

async function setup(ctx?: TargetContext): Promise<void> {
  // Under the run's scratch directory when there is one: a run stopped by a signal (no teardown) leaves nothing behind.
  state.dir = await mkdtemp(join(ctx?.scratchDir ?? tmpdir(), 'threatmesh-fuzz-zip-'));
}

async function teardown(): Promise<void> {
  await rm(state.dir, { recursive: true, force: true });
}

/** The decompression target. */
export const decompressTarget: FuzzTarget = {
  name: 'decompress',
  description: 'contentDecode + unpack (gzip, deflate, br, zstd, zip) under the size limit: intact payloads give their bytes or too-large, spoiled ones a FeedError or (checksummed formats) the original, in any chunking; zip spools removed',
  setup,
  run,
  teardown,
};
