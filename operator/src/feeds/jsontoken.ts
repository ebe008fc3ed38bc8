/**
 * Finding where a JSON string or number token ends, resumable across chunks: the scanner
 * searches only new text for the end of a token that began in earlier text.
 */

const NUM = new Uint8Array(128);
for (const c of '0123456789+-.eE') NUM[c.charCodeAt(0)] = 1;

/** True when the UTF-16 code unit `c` can continue a JSON number. */
export function isNumberChar(c: number): boolean {
  return c < 128 && NUM[c] === 1;
}

/**
 * Index in `text` (from `from`) of the quote that closes a string, or -1. `escaped`: the
 * character at `from` is escaped by a backslash that came before `text`.
 */
export function stringTextEnd(text: string, escaped: boolean, from = 0): number {
  let i = from;
  let carried = escaped;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    let bs = 0;
    for (let j = q - 1; j >= i && text.charCodeAt(j) === 92; j--) bs++;
    // A run of backslashes that reaches back to `i` continues the escape carried in from before.
    if (q - bs === i && carried) bs++;
    if ((bs & 1) === 0) return q;
    carried = false;
    i = q + 1;
  }
}

/** True when `text` from `from` ends inside an escape: its trailing run of backslashes (continuing `escaped`) is odd. */
export function endsInEscape(text: string, from: number, escaped: boolean): boolean {
  let bs = 0;
  let j = text.length - 1;
  for (; j >= from && text.charCodeAt(j) === 92; j--) bs++;
  if (j < from && escaped) bs++;
  return (bs & 1) === 1;
}

/** Index of the first character from `from` that cannot continue a number, or -1 when the text ends first. */
export function numberTextEnd(text: string, from = 0): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isNumberChar(c)) return i;
  }
  return -1;
}

/**
 * True when `text` (a whole string token, quotes included) is a valid JSON string: no raw control
 * characters (U+0000..U+001F must be escaped) and only the escapes JSON defines. The scanner
 * checks strings it does not parse (those outside selected values), so a document JSON.parse
 * would refuse is refused everywhere, not only where values are selected.
 */
export function isValidStringToken(text: string): boolean {
  const end = text.length - 1;
  for (let i = 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) return false;
    if (c !== 92) continue;
    const e = text.charCodeAt(++i);
    if (e === 117) {
      if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5)) || i + 4 >= end) return false;
      i += 4;
    } else if (ESCAPES[e] !== 1 || i >= end) {
      return false;
    }
  }
  return true;
}

const ESCAPES = new Uint8Array(128);
for (const c of '"\\/bfnrt') ESCAPES[c.charCodeAt(0)] = 1;
