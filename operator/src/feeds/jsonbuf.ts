/**
 * JSON encoding of flat records straight into a byte buffer, for the ingest preview's NDJSON and
 * the Feed run's proposal spool (feeds/spool.ts): the same bytes as `JSON.stringify(record)`,
 * without building the line as a string first. Those per-line strings were most of the
 * preview's allocation; each young-generation collection they caused promoted a little more of
 * the pipeline's live batch, and the old space grew by tens of MB per million lines.
 */

// A string that JSON.stringify would write other than between two quotes: quotes, backslashes,
// control characters, and surrogates (a lone one is escaped; a pair is sent the slow way too).
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Upper bound of the UTF-8 bytes of `record` as JSON when every string is written raw:
 * 3 bytes per UTF-16 unit of keys and string values, plus quotes and separators; `undefined`
 * when a value is not a string or a flat object of strings (the caller then uses JSON.stringify).
 */
export function flatJsonBound(record: object): number | undefined {
  if (!isPlain(record)) return undefined;
  let n = 2;
  for (const key in record) {
    const v = (record as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (!Object.hasOwn(record, key)) return undefined;
    n += 3 * key.length + 4;
    if (typeof v === 'string') {
      n += 3 * v.length + 2;
      continue;
    }
    const inner = typeof v === 'object' && v !== null && isPlain(v) ? flatStringsBound(v) : undefined;
    if (inner === undefined) return undefined;
    n += inner;
  }
  return n;
}

function isPlain(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function flatStringsBound(obj: object): number | undefined {
  let n = 2;
  for (const key in obj) {
    const v = (obj as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !Object.hasOwn(obj, key)) return undefined;
    n += 3 * (key.length + v.length) + 6;
  }
  return n;
}

/**
 * Writes `record` as JSON into `buf` at `offset` and returns the new offset. Only for records
 * that `flatJsonBound` accepted, into at least that many free bytes.
 */
export function writeFlatJson(buf: Buffer, offset: number, record: object): number {
  let at = offset;
  let first = true;
  buf[at++] = 0x7b; // {
  for (const key in record) {
    const v = (record as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (!first) buf[at++] = 0x2c; // ,
    first = false;
    at = writeString(buf, at, key);
    buf[at++] = 0x3a; // :
    at = typeof v === 'string' ? writeString(buf, at, v) : writeFlatJson(buf, at, v as object);
  }
  buf[at++] = 0x7d; // }
  return at;
}

function writeString(buf: Buffer, at: number, s: string): number {
  // Printable ASCII without quotes or backslashes is copied a byte per character here: cheaper
  // than a call into Buffer.write per string for the short strings of an indicator.
  buf[at] = 0x22; // "
  let o = at + 1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return writeOther(buf, at, s);
    buf[o++] = c;
  }
  buf[o] = 0x22;
  return o + 1;
}

function writeOther(buf: Buffer, at: number, s: string): number {
  if (NEEDS_ESCAPE.test(s)) return at + buf.write(JSON.stringify(s), at);
  buf[at] = 0x22; // "
  const end = at + 1 + buf.write(s, at + 1);
  buf[end] = 0x22;
  return end + 1;
}
