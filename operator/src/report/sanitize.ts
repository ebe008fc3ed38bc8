/**
 * Free text from partners and feeds (labels, feed names, partner ids) as report data, pure.
 * Indicator metadata crosses a trust boundary twice: it comes from other partners through the
 * replicated log, and it goes into the model's prompt and the extractive summary. So, before it
 * is shown to a model or a reader, it is made inert:
 * - one line: control characters and line breaks become spaces, runs of whitespace one space, `|`
 *   (the prompt's field separator) `/`, so a label cannot start a line of its own in the prompt;
 * - defanged, as analysts write indicators in prose: every `.` becomes `[.]`, `://` becomes
 *   `[:]//`, IPv6-looking colons `[:]`, and hexadecimal runs of 32 or more characters (hashes,
 *   digests) are cut to 8 characters and `…`. No domain, address, URL, hash or digest can reach
 *   the model or a summary through metadata, so the grounding check (which accepts only the
 *   offered indicators' own values and digests) never has to trust metadata, and a digest of an
 *   indicator above the endpoint's TLP cannot ride along in a label;
 * - clipped to a length.
 */

// Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;
const HEX_RUN = /[0-9a-f]{32,}/gi;
/** IPv6-looking: groups of hex with at least two colons and either `::` or a hex letter. */
export const IPV6 = /(?<![\w:])(?=[0-9a-f:]*(?:::|[a-f]))(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])/gi;

/**
 * An indicator value on one line of the prompt: control characters and whitespace runs become
 * one space, `|` becomes `%7C` (as in a URL). Values are normalized by the domain already; this
 * only keeps a hostile one from breaking the prompt's line and field structure.
 */
export function valueText(s: string): string {
  return s.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().replace(/\|/g, '%7C');
}

/** `s` as inert, single-line, defanged data of at most `max` characters (see the file comment). */
export function dataText(s: string, max = 64): string {
  const t = s.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().replace(/\|/g, '/')
    .replace(HEX_RUN, (h) => `${h.slice(0, 8)}…`)
    .replace(/:\/\//g, '[:]//')
    .replace(IPV6, (m) => m.replaceAll(':', '[:]'))
    .replace(/\./g, '[.]');
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}
