/** Structured JSON logging: one object per line, to a writable stream (stderr by default). */
import type { Writable } from 'node:stream';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger bound to a set of fields that appear on every line it writes. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Returns a logger whose lines also carry `fields`. */
  child(fields: Record<string, unknown>): Logger;
}

/** Creates a JSON-lines logger that drops lines below `level`. */
export function createLogger(out: Writable, level: Level = 'info', base: Record<string, unknown> = {}, now: () => Date = () => new Date()): Logger {
  const write = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (order[lvl] < order[level]) return;
    const line = { ts: now().toISOString(), level: lvl, msg, ...base, ...fields };
    out.write(JSON.stringify(line, errorReplacer) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(out, level, { ...base, ...fields }, now),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}
