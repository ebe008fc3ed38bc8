/**
 * A live view for commands that show changing state (`threatmesh up`, `sandbox`, `status --watch`):
 * on a terminal the current frame (a table and its header lines) is redrawn in place, like
 * `watch` or `kubectl get -w` would if it could; when the output is piped or redirected, each
 * changed frame is printed once as plain lines, with no control sequences, so logs and `grep`
 * see text. Permanent lines (progress steps) go above the frame in both cases.
 *
 * Invariants on a terminal: the frame never holds more rows than the screen minus one (the rest is
 * summarized in its last row), and no row is wider than the screen, so moving the cursor up by
 * the frame's row count always lands on its first row and old frames never reach the scrollback.
 */
import type { Writable } from 'node:stream';

/** The part of a stream a live view needs: a TTY has columns and rows. */
export interface LiveStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

/** ESC [ n F: cursor to the start of the line n rows up. */
const up = (n: number): string => (n > 0 ? `\x1b[${n}F` : '\r');
/** ESC [ K: erase the rest of the row. */
const ERASE_RIGHT = '\x1b[K';
/**
 * ESC [ J: erase from the cursor to the end of the screen. Only ever sent below a row just
 * written: from the top-left corner, tmux (scroll-on-clear) would move the screen into the
 * scrollback, old frames with it.
 */
const ERASE_DOWN = '\x1b[J';

/** Strips control characters (ANSI escapes included) so a frame's width is its visible width. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/** The rows of `frame` that fit a `columns` × `rows` screen: each row cut to the width, the overflow summarized. */
export function fitFrame(frame: string, columns: number, rows: number): string[] {
  const lines = frame.replace(/\n$/, '').split('\n').map((l) => visible(l));
  const width = Math.max(columns - 1, 10);
  const cut = (l: string): string => (l.length > width ? `${l.slice(0, width - 1)}…` : l);
  const max = Math.max(rows - 1, 2);
  if (lines.length <= max) return lines.map(cut);
  const kept = lines.slice(0, max - 1).map(cut);
  return [...kept, cut(`… ${lines.length - kept.length} more lines (make the terminal taller, or pipe the output to see them all)`)];
}

/** A live view over one output stream. */
export class LiveView {
  readonly #out: LiveStream;
  readonly #tty: boolean;
  /** Rows of the frame on screen now (terminal), 0 when none is drawn. */
  #drawn = 0;
  #last = '';

  /** `out` is usually process.stdout; `tty` overrides its isTTY (tests, `--no-color`-like flags). */
  constructor(out: LiveStream | Writable, tty?: boolean) {
    this.#out = out;
    this.#tty = tty ?? this.#out.isTTY === true;
  }

  /** True when frames are redrawn in place. */
  get redraws(): boolean {
    return this.#tty;
  }

  /** Prints a permanent line above the frame. */
  line(text: string): void {
    if (!this.#tty) {
      this.#out.write(`${text}\n`);
      return;
    }
    // Over the frame's first row, then the frame again below it.
    this.#out.write(`${up(this.#drawn)}${text}${ERASE_RIGHT}\n${this.#drawn > 0 && this.#last === '' ? ERASE_DOWN : ''}`);
    this.#drawn = 0;
    if (this.#last !== '') this.#draw(this.#last);
  }

  /** Shows `frame` (lines separated by \n); an unchanged frame is not shown again. */
  frame(text: string): void {
    if (text === this.#last) return;
    this.#last = text;
    if (!this.#tty) {
      // Piped: each frame once, a blank line before it, as plain text.
      this.#out.write(`\n${text}${text.endsWith('\n') ? '' : '\n'}`);
      return;
    }
    this.#draw(text);
  }

  /** Leaves the last frame on screen; later lines and frames start below it. */
  done(): void {
    this.#drawn = 0;
    this.#last = '';
  }

  #draw(text: string): void {
    const rows = fitFrame(text, this.#out.columns ?? 80, this.#out.rows ?? 24);
    // Each row overwrites the old one in place; what is left of a taller old frame goes after.
    this.#out.write(`${up(this.#drawn)}${rows.map((r) => r + ERASE_RIGHT).join('\n')}\n${ERASE_DOWN}`);
    this.#drawn = rows.length;
  }
}
