/**
 * The word-at-a-time TSV helpers against one-byte-at-a-time references: random lines of tabs,
 * commas, dots, digits and letters (short fields, empty fields, lines of every length), placed at
 * every alignment inside a larger buffer, searched from every position. A newline may come before
 * the k-th separator inside the same word, and the last bytes may lie past the last full word.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4Field, nextNewline, nextSeparator, skipColumns, wordView } from './tsvscan.ts';
import { prng } from '../prng.ts';

const TAB = 9;
const NL = 10;
const COMMA = 44;

function refNext(buf: Buffer, i: number, stop: (b: number) => boolean): number {
  while (!stop(buf[i] as number)) i++;
  return i;
}

function refSkip(buf: Buffer, i: number, k: number): number {
  for (let p = i + 1; ; p++) if (buf[p] === NL || (buf[p] === TAB && --k === 0)) return p;
}

/** The strict dotted quad ending at a tab, comma or newline, as [end, address], or -1. */
function refIpv4(buf: Buffer, start: number): number | [number, number] {
  const end = refNext(buf, start, (b) => b === TAB || b === COMMA || b === NL);
  const parts = buf.toString('latin1', start, end).split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return -1;
  return [end, parts.reduce((a, p) => a * 256 + Number(p), 0)];
}

const r = prng(99);
const ALPHABET = ['\t', '\t', '\t', '\n', ',', '.', '.', '1', '2', '0', '9', 'a', '-'];
const field = (): string => (r() < 0.3 ? `${Math.floor(r() * 300)}.${Math.floor(r() * 300)}.${Math.floor(r() * 30)}.${Math.floor(r() * 256)}` : Array.from({ length: Math.floor(r() * 7) }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join(''));

/** A buffer of `text` (ending with a newline) at byte offset `offset` of a larger ArrayBuffer. */
function placed(text: string, offset: number): Buffer {
  const bytes = Buffer.from(`${text}\n`, 'latin1');
  const backing = new ArrayBuffer(offset + bytes.length + 7);
  const buf = Buffer.from(backing, offset, bytes.length);
  bytes.copy(buf);
  // Bytes around the view that a masked word read must never take for the view's own.
  new Uint8Array(backing, 0, offset).fill(TAB);
  new Uint8Array(backing, offset + bytes.length).fill(NL);
  return buf;
}

/** Every helper from position `i` of `buf` against its reference. */
function checkAt(buf: Buffer, i: number, where: string): void {
  const w = wordView(buf);
  assert.equal(nextSeparator(buf, w, i, TAB), refNext(buf, i, (b) => b === TAB || b === NL), `nextSeparator ${where}`);
  assert.equal(nextNewline(buf, w, i), refNext(buf, i, (b) => b === NL), `nextNewline ${where}`);
  // Skips start at a separator (or just before the line).
  const from = i === 0 ? -1 : i;
  if (from === -1 || buf[from] === TAB) for (const k of [1, 2, 3, 5, 11]) assert.equal(skipColumns(buf, w, from, k, TAB), refSkip(buf, from, k), `skipColumns ${k} ${where}`);
  const out = new Float64Array(1);
  const e = ipv4Field(buf, i, TAB, COMMA, out);
  assert.deepEqual(e < 0 ? -1 : [e, out[0]], refIpv4(buf, i), `ipv4Field ${where}`);
}

test('separator, column-skip, newline and IPv4-field scans agree with byte-by-byte references at every alignment', () => {
  for (let n = 0; n < 300; n++) {
    const text = Array.from({ length: 1 + Math.floor(r() * 12) }, field).join(r() < 0.8 ? '\t' : ',');
    for (let offset = 0; offset < 4; offset++) {
      const buf = placed(text, offset);
      for (let i = 0; i < buf.length; i++) checkAt(buf, i, `${JSON.stringify(text)} offset ${offset} at ${i}`);
    }
  }
});

test('a newline inside the word that holds the k-th separator ends the skip', () => {
  // "a\n\t\t\t": the line ends before its second column; the tabs after the newline belong to the next line.
  const cases: Array<[string, number, number]> = [['a\n\t\t\tb', 2, 1], ['\ta\n\t\t', 3, 2], ['\t\t\n\t', 2, 1], ['x\ty\tz', 2, 3]];
  for (const [text, k, want] of cases) {
    for (let offset = 0; offset < 4; offset++) {
      const buf = placed(text, offset);
      assert.equal(skipColumns(buf, wordView(buf), -1, k, TAB), want, `${JSON.stringify(text)} k ${k} offset ${offset}`);
    }
  }
});
