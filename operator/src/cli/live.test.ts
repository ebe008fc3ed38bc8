import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveView, fitFrame, visible } from './live.ts';

/**
 * A minimal terminal: printable characters, \n, \r, ESC[nF (up n rows, column 0), ESC[K (erase
 * to the end of the row) and ESC[J (erase to the end of the screen), with a screen of `rows` rows
 * whose top rows scroll into `history`. Like tmux (scroll-on-clear), ESC[J from the top-left
 * corner moves the screen into the history. Enough to see what a user would see.
 */
class Terminal {
  readonly columns: number;
  readonly rows: number;
  readonly isTTY = true;
  readonly history: string[] = [];
  screen: string[];
  private row = 0;
  private col = 0;

  constructor(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.screen = Array.from({ length: rows }, () => '');
  }

  write(chunk: string): boolean {
    // eslint-disable-next-line no-control-regex
    for (const m of chunk.matchAll(/\x1b\[(\d*)([A-Za-z])|[\s\S]/g)) {
      if (m[2] === 'F') this.moveUp(Number(m[1] || '1'));
      else if (m[2] === 'J') this.eraseDown();
      else if (m[2] === 'K') this.screen[this.row] = (this.screen[this.row] ?? '').slice(0, this.col);
      else if (m[2] !== undefined) throw new Error(`unexpected escape ${m[0]}`);
      else if (m[0] === '\n') this.newline();
      else if (m[0] === '\r') this.col = 0;
      else this.put(m[0]);
    }
    return true;
  }

  /** Every row ever shown: scrollback, then the screen. */
  all(): string[] {
    return [...this.history, ...this.screen];
  }

  private eraseDown(): void {
    if (this.row === 0 && this.col === 0) this.history.push(...this.screen.filter((l) => l !== ''));
    this.screen = this.screen.map((l, i) => (i < this.row ? l : i === this.row ? l.slice(0, this.col) : ''));
  }

  private moveUp(n: number): void {
    this.row = Math.max(0, this.row - n);
    this.col = 0;
  }

  private newline(): void {
    this.col = 0;
    if (this.row < this.rows - 1) {
      this.row += 1;
      return;
    }
    this.history.push(this.screen.shift() ?? '');
    this.screen.push('');
  }

  private put(ch: string): void {
    if (this.col >= this.columns) this.newline();
    const line = this.screen[this.row] ?? '';
    this.screen[this.row] = line.padEnd(this.col).slice(0, this.col) + ch + line.slice(this.col + 1);
    this.col += 1;
  }
}

/** A piped stream: collects text. */
class Pipe {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const table = (n: number, extra = 0): string => ['NAME  STATE', ...Array.from({ length: 3 + extra }, (_, i) => `ti/${i}  ${i < n ? 'Approved' : 'Proposed'}`)].join('\n') + '\n';
const headers = (lines: readonly string[]): number => lines.filter((l) => l.startsWith('NAME  STATE')).length;

describe('LiveView on a terminal', () => {
  const cases: Array<{ name: string; columns: number; rows: number; frames: string[]; lines?: number[] }> = [
    { name: 'redraws a table in place', columns: 80, rows: 24, frames: [table(0), table(1), table(2), table(3)] },
    { name: 'keeps one table while steps are printed above it', columns: 80, rows: 24, frames: [table(0), table(1), table(2), table(3)], lines: [0, 1, 2] },
    { name: 'keeps one table when steps scroll the screen', columns: 80, rows: 8, frames: [table(0), table(1), table(2), table(3)], lines: [0, 0, 1, 1, 2, 2, 3, 3] },
    { name: 'keeps one table when the table grows and shrinks', columns: 80, rows: 24, frames: [table(0, 0), table(1, 6), table(2, 1), table(3, 9)] },
    { name: 'keeps one table taller than the screen (summarized)', columns: 80, rows: 6, frames: [table(0, 10), table(1, 12), table(2, 3)] },
    { name: 'keeps one table wider than the screen (rows cut)', columns: 12, rows: 24, frames: [table(0), table(1), table(2)] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const term = new Terminal(c.columns, c.rows);
      const live = new LiveView(term);
      assert.equal(live.redraws, true);
      c.frames.forEach((f, i) => {
        for (const l of c.lines?.filter((x) => x === i) ?? []) live.line(`step at frame ${l}`);
        live.frame(f);
      });
      live.done();
      live.line('after');
      assert.equal(headers(term.all()), 1, `one table header in\n${term.all().join('\n')}`);
      const last = fitFrame(c.frames.at(-1) ?? '', c.columns, c.rows);
      const shown = term.all().join('\n');
      assert.ok(shown.includes(last.join('\n')), `the last frame is on screen:\n${shown}`);
      assert.equal(term.all().filter((l) => l.startsWith('step at frame')).length, c.lines?.length ?? 0, 'every step line is kept');
      assert.ok(term.all().every((l) => l.length <= c.columns), 'no row wider than the screen');
      assert.equal(term.all().filter((l) => l !== '').at(-1), 'after', 'a line after done() goes below the table');
    });
  }
});

describe('LiveView piped', () => {
  test('prints each changed frame once as plain lines, steps in order', () => {
    const out = new Pipe();
    const live = new LiveView(out);
    assert.equal(live.redraws, false);
    live.line('step 1');
    live.frame(table(0));
    live.frame(table(0));
    live.frame(table(1));
    live.line('ready');
    assert.equal(out.text, `step 1\n\n${table(0)}\n${table(1)}ready\n`);
    assert.ok(!out.text.includes('\x1b'), 'no control sequences when piped');
  });
});

describe('fitFrame', () => {
  test('cuts rows to the width and summarizes rows beyond the height', () => {
    assert.deepEqual(fitFrame('a\nbbbbbbbbbbbbbbbbbbbb\n', 12, 10), ['a', 'bbbbbbbbbb…']);
    const rows = fitFrame(Array.from({ length: 30 }, (_, i) => `r${i}`).join('\n'), 80, 10);
    assert.equal(rows.length, 9);
    assert.match(rows.at(-1) ?? '', /^… 22 more lines/);
  });
  test('measures visible text: escapes and control characters are dropped', () => {
    assert.equal(visible('\x1b[31mred\x1b[0m\x07'), 'red');
  });
});
