/**
 * A small streaming JSON scanner. It validates the whole document's structure as text arrives
 * and hands back, one by one, the values found at selected paths (for example every element
 * of `objects[*]` in a STIX bundle, or `*[*]` in ThreatFox's export keyed by id), each parsed
 * with JSON.parse from its own text. Nothing else of the document is kept in memory, so a
 * 500 MB document costs as much memory as its largest selected element (bounded by
 * `maxValueBytes`: larger ones are reported and skipped).
 *
 * Work is linear in the input, also for one token (a string or number) spread over many
 * chunks: an incomplete token is kept as its chunks and only the new chunk is searched for its
 * end, so a multi-megabyte token costs a few passes over its text, not one pass per chunk.
 *
 * Path syntax: dot-separated keys, `[*]` for every array element, `*` for every key (or
 * element) of a container, `$` or '' for the whole document. Examples: `objects[*]`,
 * `Event.Attribute[*]`, `*[*]`, `[*]`, `data.items[*]`.
 */
import { parsePath, pathText, type PathSegment } from './jsonpath.ts';
import { endsInEscape, isValidStringToken, numberTextEnd, stringTextEnd } from './jsontoken.ts';
import { FeedError } from './types.ts';

export { parsePath, pathText, type PathSegment };

/** A value found at a selected path. `path` holds keys and indexes from the root. */
export interface JsonMatch {
  readonly selector: number;
  readonly path: ReadonlyArray<string | number>;
  readonly value: unknown;
}

/** A selected value too large to keep. */
export interface JsonOversize {
  readonly selector: number;
  readonly path: ReadonlyArray<string | number>;
  readonly bytes: number;
}

type Ctx = 'top' | 'top-done' | 'obj-key-or-end' | 'obj-key' | 'obj-colon' | 'obj-value' | 'obj-comma' | 'arr-value-or-end' | 'arr-value' | 'arr-comma';

interface Frame {
  readonly isObj: boolean;
  key: string | number;
  index: number;
}

/** A token whose end has not arrived yet: its text so far, kept in parts, and where its search stands. */
interface Partial {
  readonly kind: 'string' | 'number' | 'literal';
  readonly parts: string[];
  length: number;
  /** Strings: the text so far ends inside an escape (an odd run of backslashes). */
  escaped: boolean;
  /** Absolute offset of the token's first character. */
  readonly base: number;
}

const WS = new Uint8Array(128);
WS[32] = 1; WS[9] = 1; WS[10] = 1; WS[13] = 1;
const NUMBER_RE = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** Incremental scanner; feed text with `push`, finish with `end`. */
export class JsonScanner {
  private readonly selectors: readonly PathSegment[][];
  private readonly maxValue: number;
  private readonly maxToken: number;
  private readonly stack: Frame[] = [];
  private ctx: Ctx = 'top';
  private buf = '';
  private pos = 0;
  private base = 0;
  private capSel = -1;
  private capDepth = 0;
  private capFrom = 0;
  private capParts: string[] = [];
  private capLen = 0;
  private capPath: Array<string | number> = [];
  private capOversize = false;
  private matches: JsonMatch[] = [];
  private oversize: JsonOversize[] = [];
  private readonly containerSeen: boolean[];
  private partial: Partial | undefined;
  private workDone = 0;

  constructor(selectors: readonly PathSegment[][], maxValueBytes = 16 << 20, maxTokenBytes = 16 << 20) {
    this.selectors = selectors;
    this.maxValue = maxValueBytes;
    this.maxToken = maxTokenBytes;
    this.containerSeen = selectors.map((s) => s.length === 0);
  }

  /**
   * Characters examined and copied so far: a measure of work that grows linearly with the input
   * (tests and benchmarks check that ratio instead of timing).
   */
  get work(): number {
    return this.workDone;
  }

  /** Scans `chunk`; returns the values completed in it and the selected values that were too large. */
  push(chunk: string): { matches: JsonMatch[]; oversize: JsonOversize[] } {
    if (this.partial !== undefined) {
      if (!this.extendPartial(chunk)) return this.drain();
    } else {
      this.buf = this.pos < this.buf.length ? this.buf.slice(this.pos) + chunk : chunk;
      this.workDone += this.buf.length - chunk.length;
      this.base += this.pos;
      this.pos = 0;
    }
    if (this.capSel >= 0) this.capFrom = 0;
    this.run();
    if (this.capSel >= 0) this.flushCapture(this.pos);
    if (this.pos < this.buf.length) this.holdPartial();
    return this.drain();
  }

  private drain(): { matches: JsonMatch[]; oversize: JsonOversize[] } {
    const out = { matches: this.matches, oversize: this.oversize };
    this.matches = [];
    this.oversize = [];
    return out;
  }

  /** The buffer ends inside a token (run() stopped at it): keep its text aside with the state of its search. */
  private holdPartial(): void {
    const text = this.buf.slice(this.pos);
    const c = text.charCodeAt(0);
    const kind = c === 34 ? 'string' : this.isNumberStart(c) ? 'number' : 'literal';
    this.partial = { kind, parts: [text], length: text.length, escaped: kind === 'string' && endsInEscape(text, 1, false), base: this.base + this.pos };
    this.workDone += text.length;
    this.buf = '';
    this.base += this.pos;
    this.pos = 0;
    this.checkTokenLength(text.length);
  }

  /**
   * Adds `chunk` to the held token; searches only `chunk` for the token's end. When it is there,
   * the token's text becomes the start of the buffer again (one copy) and true is returned.
   */
  private extendPartial(chunk: string): boolean {
    const p = this.partial;
    if (p === undefined) return true;
    const end = p.kind === 'literal' ? 0 : p.kind === 'number' ? numberTextEnd(chunk) : stringTextEnd(chunk, p.escaped);
    this.workDone += end < 0 ? chunk.length : end + 1;
    p.parts.push(chunk);
    p.length += chunk.length;
    if (end < 0) {
      if (p.kind === 'string') p.escaped = endsInEscape(chunk, 0, p.escaped);
      this.checkTokenLength(p.length);
      return false;
    }
    this.partial = undefined;
    this.buf = p.parts.join('');
    this.workDone += this.buf.length;
    this.base = p.base;
    this.pos = 0;
    return true;
  }

  private checkTokenLength(n: number): void {
    if (n > this.maxToken) this.fail('a single JSON token (string or number) is longer than the limit; the document is malformed or hostile');
  }

  /** Declares the end of input; throws FeedError('truncated') when the document is incomplete. */
  end(): { matches: JsonMatch[]; oversize: JsonOversize[] } {
    if (this.partial !== undefined) {
      this.buf = this.partial.parts.join('');
      this.base = this.partial.base;
      this.pos = 0;
      this.partial = undefined;
    }
    const rest = this.buf.slice(this.pos);
    if (this.ctx === 'top' && rest.trim() !== '' && this.isNumberStart(rest.trim().charCodeAt(0))) {
      this.buf = rest.trim() + ' ';
      this.pos = 0;
      this.run();
    }
    if (this.ctx !== 'top-done') {
      const what = this.ctx === 'top' ? 'the document is empty' : `the document ends inside ${this.stack.length} open container(s)`;
      throw new FeedError('truncated', `JSON is truncated: ${what} (after ${this.base + this.buf.length} characters); the download was cut short or the file is incomplete`);
    }
    const out = { matches: this.matches, oversize: this.oversize };
    this.matches = [];
    return out;
  }

  /** After `end`: the selectors whose container never appeared in the document (a wrong path?). */
  missingPaths(): string[] {
    return this.selectors.filter((_, i) => this.containerSeen[i] !== true).map((s) => pathText(s));
  }

  private fail(msg: string): never {
    throw new FeedError('invalid-json', `invalid JSON at character ${this.base + this.pos}: ${msg}`);
  }

  private isNumberStart(c: number): boolean {
    return c === 45 || (c >= 48 && c <= 57);
  }

  private run(): void {
    const buf = this.buf;
    const n = buf.length;
    while (this.pos < n) {
      const c = buf.charCodeAt(this.pos);
      if (c < 128 && WS[c] === 1) {
        this.pos++;
        continue;
      }
      if (!this.step(c)) return;
    }
  }

  /** Handles one token starting at pos; false when the token is incomplete (wait for more text). */
  private step(c: number): boolean {
    switch (this.ctx) {
      case 'top':
      case 'obj-value':
      case 'arr-value':
      case 'arr-value-or-end':
        if (c === 93 && this.ctx === 'arr-value-or-end') return this.close(false);
        return this.value(c);
      case 'obj-key-or-end':
      case 'obj-key':
        return this.keyOrEnd(c);
      case 'obj-colon':
        if (c !== 58) this.fail(`expected ':', found ${show(c)}`);
        this.pos++;
        this.ctx = 'obj-value';
        return true;
      case 'obj-comma':
      case 'arr-comma':
        return this.comma(c);
      case 'top-done':
        return this.fail(`unexpected ${show(c)} after the end of the document`);
    }
  }

  private keyOrEnd(c: number): boolean {
    if (c === 125 && this.ctx === 'obj-key-or-end') return this.close(true);
    if (c !== 34) this.fail(`expected a string key, found ${show(c)}`);
    return this.key();
  }

  private comma(c: number): boolean {
    const isObj = this.ctx === 'obj-comma';
    if (c === (isObj ? 125 : 93)) return this.close(isObj);
    if (c !== 44) this.fail(`expected ',' or '${isObj ? '}' : ']'}', found ${show(c)}`);
    this.pos++;
    this.ctx = isObj ? 'obj-key' : 'arr-value';
    const top = this.stack[this.stack.length - 1];
    if (top !== undefined && !isObj) top.index++;
    return true;
  }

  private key(): boolean {
    const end = this.stringEnd(this.pos + 1);
    if (end < 0) return false;
    const top = this.stack[this.stack.length - 1];
    if (top !== undefined && this.capSel < 0 && this.stack.length <= this.maxSelectorLength()) {
      try {
        top.key = JSON.parse(this.buf.slice(this.pos, end + 1)) as string;
      } catch {
        this.fail('bad escape or control character in an object key');
      }
    } else if (this.capSel < 0 && !isValidStringToken(this.buf.slice(this.pos, end + 1))) {
      this.fail('bad escape or control character in an object key');
    }
    this.pos = end + 1;
    this.ctx = 'obj-colon';
    return true;
  }

  private maxSelectorLength(): number {
    let m = 0;
    for (const s of this.selectors) m = Math.max(m, s.length);
    return m;
  }

  /** Index of the closing quote of a string whose content starts at `from`, or -1 if not in the buffer. */
  private stringEnd(from: number): number {
    const q = stringTextEnd(this.buf, false, from);
    this.workDone += (q < 0 ? this.buf.length : q + 1) - from;
    return q;
  }

  private value(c: number): boolean {
    const start = this.pos;
    if (this.capSel < 0) this.maybeStartCapture(start, c);
    if (c === 123 || c === 91) {
      const isObj = c === 123;
      this.pos++;
      this.stack.push({ isObj, key: isObj ? '' : 0, index: 0 });
      this.ctx = isObj ? 'obj-key-or-end' : 'arr-value-or-end';
      return true;
    }
    const end = this.scalarEnd(c);
    if (end < 0) {
      if (this.capSel >= 0 && this.capDepth === this.stack.length && this.capParts.length === 0) this.capSel = -1;
      return false;
    }
    this.pos = end;
    this.afterValue();
    return true;
  }

  private scalarEnd(c: number): number {
    if (c === 34) {
      const q = this.stringEnd(this.pos + 1);
      // A captured value is checked by JSON.parse when it ends; any other string is checked here.
      if (q >= 0 && this.capSel < 0 && !isValidStringToken(this.buf.slice(this.pos, q + 1))) this.fail('bad escape or unescaped control character in a string');
      return q < 0 ? -1 : q + 1;
    }
    if (this.isNumberStart(c)) return this.numberEnd();
    for (const lit of ['true', 'false', 'null']) {
      if (c !== lit.charCodeAt(0)) continue;
      const have = this.buf.slice(this.pos, this.pos + lit.length);
      if (have === lit) return this.pos + lit.length;
      if (lit.startsWith(have) && this.pos + have.length === this.buf.length) return -1;
    }
    return this.fail(`unexpected ${show(c)}`);
  }

  private numberEnd(): number {
    const buf = this.buf;
    const end = numberTextEnd(buf, this.pos);
    this.workDone += (end < 0 ? buf.length : end + 1) - this.pos;
    if (end < 0) return -1;
    const i = end;
    if (!NUMBER_RE.test(buf.slice(this.pos, i))) this.fail(`bad number ${JSON.stringify(buf.slice(this.pos, i).slice(0, 40))}`);
    return i;
  }

  private close(isObj: boolean): boolean {
    this.pos++;
    this.stack.pop();
    this.afterValue();
    void isObj;
    return true;
  }

  /** A value just ended at `pos`: finish a capture that started at this depth, then set the context. */
  private afterValue(): void {
    if (this.capSel >= 0 && this.stack.length === this.capDepth) this.finishCapture();
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) this.ctx = 'top-done';
    else this.ctx = top.isObj ? 'obj-comma' : 'arr-comma';
  }

  private currentPath(): Array<string | number> {
    return this.stack.map((f) => (f.isObj ? f.key : f.index));
  }

  private maybeStartCapture(start: number, c: number): void {
    const depth = this.stack.length;
    for (let s = 0; s < this.selectors.length; s++) {
      const sel = this.selectors[s] ?? [];
      // The selected values' container is here only when it is a container the last step can enter.
      if (sel.length === depth + 1 && this.prefixMatches(sel, depth) && entersContainer(sel[depth], c)) this.containerSeen[s] = true;
      if (sel.length !== depth || !this.prefixMatches(sel, depth)) continue;
      this.capSel = s;
      this.capDepth = depth;
      this.capFrom = start;
      this.capParts = [];
      this.capLen = 0;
      this.capOversize = false;
      this.capPath = this.currentPath();
      return;
    }
  }

  private prefixMatches(sel: readonly PathSegment[], depth: number): boolean {
    for (let i = 0; i < depth; i++) {
      const seg = sel[i];
      const f = this.stack[i];
      if (seg === undefined || f === undefined) return false;
      if (seg.kind === 'index' && f.isObj) return false;
      if (seg.kind === 'key' && (!f.isObj || f.key !== seg.key)) return false;
    }
    return true;
  }

  private flushCapture(upTo: number): void {
    if (!this.capOversize) {
      const part = this.buf.slice(this.capFrom, upTo);
      this.workDone += part.length;
      this.capLen += part.length;
      if (this.capLen > this.maxValue) {
        this.capOversize = true;
        this.capParts = [];
      } else {
        this.capParts.push(part);
      }
    } else {
      this.capLen += upTo - this.capFrom;
    }
    this.capFrom = upTo;
  }

  private finishCapture(): void {
    this.flushCapture(this.pos);
    const sel = this.capSel;
    this.capSel = -1;
    if (this.capOversize) {
      this.oversize.push({ selector: sel, path: this.capPath, bytes: this.capLen });
      return;
    }
    const text = this.capParts.length === 1 ? (this.capParts[0] ?? '') : this.capParts.join('');
    this.capParts = [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.fail(`inside ${pathText(this.capPath)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.matches.push({ selector: sel, path: this.capPath, value });
  }
}

/** True when `step` can select values inside a container opened by character `c` ('[' or '{'). */
function entersContainer(step: PathSegment | undefined, c: number): boolean {
  if (step?.kind === 'index') return c === 91;
  if (step?.kind === 'key') return c === 123;
  return c === 91 || c === 123;
}

function show(c: number): string {
  return c === undefined || Number.isNaN(c) ? 'end of text' : JSON.stringify(String.fromCharCode(c));
}
