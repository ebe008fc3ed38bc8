/**
 * Refanging: undoing the "defanged" spellings threat feeds and reports use so
 * that indicators cannot be clicked or resolved by accident.
 *
 * Recognized, case-insensitively:
 * - bracketed tokens in `[]`, `()` or `{}`: `.` and `dot` → `.`, `:` → `:`,
 *   `://` → `://`, `/` → `/`, `@` and `at` → `@`
 *   (so `example[.]com`, `1.2.3(.)4`, `evil[dot]org`, `user[at]example.com`, `http[:]//`);
 * - scheme spellings at the very start: `hxxp` / `hxxps` → `http` / `https`,
 *   `fxp` → `ftp` (only when followed by `:` or a bracketed colon).
 *
 * Anything else is left alone; in particular `[::1]` and other brackets that
 * are not exactly one of the tokens above stay as they are.
 */

const OPEN_SQUARE = 91;
const OPEN_ROUND = 40;
const OPEN_CURLY = 123;
const TOKENS: ReadonlyMap<string, string> = new Map([
  ['.', '.'], ['dot', '.'], [':', ':'], ['://', '://'], ['/', '/'], ['@', '@'], ['at', '@'],
]);
const LONGEST_TOKEN = 3;

/** Returns `s` with defanged tokens and scheme spellings restored; returns `s` itself when nothing matches. */
export function refang(s: string): string {
  const bracketed = hasOpener(s) ? refangBrackets(s) : s;
  return refangScheme(bracketed);
}

function hasOpener(s: string): boolean {
  return s.includes('[') || s.includes('(') || s.includes('{');
}

/** The closing bracket's char code for an opening one, or 0 when `c` opens nothing. */
function closerOf(c: number): number {
  if (c === OPEN_SQUARE) return 93;
  if (c === OPEN_ROUND) return 41;
  return c === OPEN_CURLY ? 125 : 0;
}

function refangBrackets(s: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < s.length; i++) {
    const closer = closerOf(s.charCodeAt(i));
    if (closer === 0) continue;
    const close = closerWithin(s, i, closer);
    if (close < 0) continue;
    const replacement = TOKENS.get(s.slice(i + 1, close).toLowerCase());
    if (replacement === undefined) continue;
    out += s.slice(copied, i) + replacement;
    copied = close + 1;
    i = close;
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** Looks for `closer` at most LONGEST_TOKEN characters after `open`, so scanning stays linear. */
function closerWithin(s: string, open: number, closer: number): number {
  const limit = Math.min(s.length, open + LONGEST_TOKEN + 2);
  for (let j = open + 2; j < limit; j++) {
    if (s.charCodeAt(j) === closer) return j;
  }
  return -1;
}

function refangScheme(s: string): string {
  const c = s.charCodeAt(0) | 0x20;
  if (c !== 104 && c !== 102) return s; // 'h' or 'f'
  const colon = s.indexOf(':');
  if (colon < 3 || colon > 5) return s;
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme === 'hxxp') return 'http' + s.slice(colon);
  if (scheme === 'hxxps') return 'https' + s.slice(colon);
  if (scheme === 'fxp') return 'ftp' + s.slice(colon);
  return s;
}
