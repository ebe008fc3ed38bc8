/**
 * The JSON log lines a child process writes (operator/src/log.ts: one JSON object a line),
 * parsed as they arrive, for tests that wait for a line or count lines of a level. A line
 * that is not JSON (a crash's stack trace, Node's warnings) is kept as `{ msg: line }` so an
 * assertion message can still show it.
 */
import type { Readable } from 'node:stream';

/** What {@link collectJsonLines} gathers, growing while the child runs. */
export interface JsonLineLog {
  /** Every complete line so far, parsed, with `tag`'s fields added. */
  readonly lines: Array<Record<string, unknown>>;
  /** Everything the stream carried so far, as text (for assertion messages). */
  readonly text: () => string;
}

/** Parses `stream` (a child's stderr) into JSON lines as it arrives; `tag` is merged into every line (e.g. `{ child: name }`). */
export function collectJsonLines(stream: Readable, tag: Record<string, unknown> = {}): JsonLineLog {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    raw += d;
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      lines.push({ ...parseLine(buffered.slice(0, nl)), ...tag });
      buffered = buffered.slice(nl + 1);
    }
  });
  return { lines, text: () => raw };
}

function parseLine(line: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { msg: line };
  } catch {
    return { msg: line };
  }
}
