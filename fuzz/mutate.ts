/**
 * Structure-aware mutation: inputs start from valid documents built by each target's generator
 * and are then changed the way real feeds and hostile senders change them — tokens of the
 * format inserted or removed, spans duplicated or swapped, odd characters (NUL, BOM, lone
 * surrogates, CR, U+2028) dropped in, truncation — rather than replaced by random bytes.
 */
import type { Rng } from './rng.ts';

/** Characters that break naive parsers: controls, line ends, BOM, surrogates, non-ASCII. */
export const ODD_CHARS: readonly string[] = [
  '\0', '\t', '\n', '\r', '\r\n', '\v', '\f', ' ', '\u00a0', '\ufeff', '\u2028', '\u2029', '\u200b', '\ud800', '\udfff', '\ud83d\ude00',
  '\u0130', '\u0131', '\u017f', '\u212a', 'ß', 'é', 'Ⅻ', '．', '。', '／', '：', '\\', '"', "'", '`', '%', '%00', '%2e', '\u0085', '\x7f', '\x1b',
];

/** A random string from a mix of ASCII, odd characters and the given tokens. */
export function randomText(rng: Rng, tokens: readonly string[], maxParts = 12): string {
  const n = rng.small(maxParts);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = rng.int(10);
    if (k < 4) s += String.fromCharCode(rng.range(0x20, 0x7e));
    else if (k < 6) s += rng.pick(ODD_CHARS);
    else if (k < 9 && tokens.length > 0) s += rng.pick(tokens);
    else s += String.fromCharCode(rng.int(0x10000));
  }
  return s;
}

/** One random change to `text`. */
export function mutateOnce(rng: Rng, text: string, tokens: readonly string[]): string {
  const n = text.length;
  const at = rng.int(n + 1);
  const span = (): [number, number] => {
    const a = rng.int(n + 1);
    return [a, Math.min(n, a + 1 + rng.small(64))];
  };
  switch (rng.int(11)) {
    case 0: return text.slice(0, at) + rng.pick(tokens.length > 0 ? tokens : ODD_CHARS) + text.slice(at);
    case 1: return text.slice(0, at) + rng.pick(ODD_CHARS) + text.slice(at);
    case 2: { const [a, b] = span(); return text.slice(0, a) + text.slice(b); }
    case 3: { const [a, b] = span(); return text.slice(0, b) + text.slice(a, b) + text.slice(b); }
    case 4: return text.slice(0, at);
    case 5: { const [a, b] = span(); const c = rng.int(n + 1); const piece = text.slice(a, b); const rest = text.slice(0, a) + text.slice(b); return rest.slice(0, Math.min(c, rest.length)) + piece + rest.slice(Math.min(c, rest.length)); }
    case 6: return text.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + text.slice(at + 1);
    case 7: { const [a, b] = span(); const piece = text.slice(a, b); return text.slice(0, a) + (rng.chance(0.5) ? piece.toUpperCase() : piece.toLowerCase()) + text.slice(b); }
    case 8: return text.slice(0, at) + randomText(rng, tokens, 6) + text.slice(at);
    case 9: { const [a, b] = span(); return text.slice(0, a) + rng.pick(tokens.length > 0 ? tokens : ODD_CHARS) + text.slice(b); }
    default: return text.slice(0, at) + text.slice(at, at + 1).repeat(rng.range(2, 40)) + text.slice(at + 1);
  }
}

/** One to `max` random changes to `text`. */
export function mutate(rng: Rng, text: string, tokens: readonly string[], max = 4): string {
  let s = text;
  const k = 1 + rng.small(max - 1);
  for (let i = 0; i < k; i++) s = mutateOnce(rng, s, tokens);
  return s;
}

/** Random byte-level changes (flips, inserts, deletes) to a binary message. */
export function mutateBytes(rng: Rng, buf: Buffer): Buffer {
  let b = Buffer.from(buf);
  const k = 1 + rng.small(4);
  for (let i = 0; i < k; i++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(5)) {
      case 0: if (b.length > 0) b[Math.min(at, b.length - 1)]! ^= 1 << rng.int(8); break;
      case 1: b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.small(8)), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.small(16)))]); break;
      case 3: b = b.subarray(0, at); break;
      default: if (b.length > 0) b[Math.min(at, b.length - 1)] = rng.pick([0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22]); break;
    }
  }
  return b;
}

/** The text parsers sniff this many bytes before they start (feeds/text.ts): a cut near it is worth making. */
const SNIFF_BYTES = 512;

/**
 * `buf` cut into chunks the way a network may cut it: one to three windows of up to 48 bytes cut
 * at every byte (so a multi-byte character, an escape or a token arrives a byte at a time; from
 * the first byte on in a quarter of the cases, around the sniffed head in some), and everywhere
 * else chunks of 1 to ~130 bytes, about 11 on average, so every line or token longer than that
 * is cut somewhere. Cutting at every byte of the whole payload (as before) made a case cost its
 * length in async steps, most of them cuts between two ASCII letters that re-test one parser
 * state; an injected chunking bug was found as often per case either way (docs/adr addendum).
 */
export function randomChunks(rng: Rng, buf: Buffer): Buffer[] {
  const n = buf.length;
  const cuts = new Set<number>();
  const windowAt = (): number => {
    const k = rng.int(8);
    if (k < 2) return 0;
    if (k === 2 && n > SNIFF_BYTES) return SNIFF_BYTES - rng.int(8);
    return rng.int(n + 1);
  };
  for (let w = rng.range(1, 3); w > 0; w--) {
    const from = windowAt();
    for (let i = from, end = Math.min(n, from + 1 + rng.small(48)); i < end; i++) cuts.add(i);
  }
  for (let i = 0; i < n;) {
    const k = rng.int(10);
    i += k < 3 ? 1 : k < 6 ? rng.range(2, 8) : rng.range(9, 9 + rng.small(120));
    cuts.add(i);
  }
  const at = [...cuts].filter((c) => c > 0 && c < n).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  if (prev < n || out.length === 0) out.push(buf.subarray(prev));
  return out;
}
