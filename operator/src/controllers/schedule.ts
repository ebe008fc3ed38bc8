/**
 * Pure schedule arithmetic for Feeds: Go-style durations (`1h30m`, `30d`) and five-field cron
 * expressions in UTC (minute hour day-of-month month day-of-week; `*`, lists, ranges, steps,
 * month and weekday names; day-of-month and day-of-week are OR-ed when both are restricted, as in
 * Vixie cron). No I/O, no clock: callers pass the instant to start from.
 */

/** A parsed duration or schedule error with a message a person can act on. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration like `90s`, `15m`, `1h30m` or `30d` into milliseconds; throws ScheduleError otherwise. */
export function parseDuration(text: string): number {
  if (!/^(\d{1,5}[dhms])+$/.test(text)) throw new ScheduleError(`"${text}" is not a duration: use whole numbers with units d, h, m, s, e.g. 1h or 1h30m`);
  let total = 0;
  for (const m of text.matchAll(/(\d+)([dhms])/g)) total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
  if (total <= 0) throw new ScheduleError(`duration "${text}" is zero: use a positive duration`);
  return total;
}

/** Milliseconds as the shortest duration text {@link parseDuration} reads back (`72h`, `5m`, `2s`, `1h30m`); whole seconds only. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms % 1000 !== 0) throw new ScheduleError(`${ms} ms is not a positive whole number of seconds`);
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/** A parsed cron expression: the allowed values of each field. */
export interface CronSchedule {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is folded into 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
}

interface FieldSpec { readonly name: string; readonly min: number; readonly max: number; readonly names?: readonly string[] }

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

function atom(text: string, f: FieldSpec): number {
  const named = f.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (f.name === 'month' ? 1 : 0);
  if (!/^\d{1,2}$/.test(text)) throw new ScheduleError(`cron ${f.name} "${text}" is not a number${f.names ? ' or name' : ''}`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new ScheduleError(`cron ${f.name} ${n} is outside ${f.min}-${f.max}`);
  return n;
}

function parsePart(part: string, f: FieldSpec, out: Set<number>): void {
  const [range = '', stepText] = part.split('/', 2);
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) throw new ScheduleError(`cron ${f.name} step "${stepText}" must be a positive whole number`);
  let lo = f.min;
  let hi = f.max;
  if (range !== '*') {
    const [a = '', b] = range.split('-', 2);
    lo = atom(a, f);
    hi = b === undefined ? (stepText === undefined ? lo : f.max) : atom(b, f);
  }
  if (lo > hi) throw new ScheduleError(`cron ${f.name} range ${range} runs backwards`);
  for (let v = lo; v <= hi; v += step) out.add(v);
}

function parseField(text: string, f: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw new ScheduleError(`cron ${f.name} "${text}" has an empty list item`);
    parsePart(part, f, out);
  }
  return out;
}

/** Parses a five-field cron expression; throws ScheduleError naming the bad field. */
export function parseCron(expr: string): CronSchedule {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new ScheduleError(`cron "${expr}" has ${parts.length} fields; use five: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i] as FieldSpec));
  const dow = sets[4] as Set<number>;
  if (dow.delete(7)) dow.add(0);
  return {
    source: expr,
    minutes: sets[0] as Set<number>,
    hours: sets[1] as Set<number>,
    daysOfMonth: sets[2] as Set<number>,
    months: sets[3] as Set<number>,
    daysOfWeek: dow,
    domRestricted: !parts[2]?.startsWith('*'),
    dowRestricted: !parts[4]?.startsWith('*'),
  };
}

function dayMatches(c: CronSchedule, d: Date): boolean {
  const dom = c.daysOfMonth.has(d.getUTCDate());
  const dow = c.daysOfWeek.has(d.getUTCDay());
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  return dom && dow;
}

/** Gives up after this many field advances: an expression like "0 0 31 2 *" never fires. */
const MAX_STEPS = 100_000;

/** The first instant strictly after `after` (UTC, whole minutes) that `c` matches; undefined when it never fires. */
export function nextCronTime(c: CronSchedule, after: Date): Date | undefined {
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  for (let i = 0; i < MAX_STEPS; i++) {
    if (!c.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!c.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!c.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else {
      return t;
    }
  }
  return undefined;
}

/** A Feed schedule: every `intervalMs`, or on a cron expression. */
export type Schedule = { readonly kind: 'interval'; readonly intervalMs: number; readonly text: string } | { readonly kind: 'cron'; readonly cron: CronSchedule };

/** Parses a Feed's schedule block; exactly one of interval or cron must be set. */
export function parseSchedule(s: { interval?: string; cron?: string }): Schedule {
  if ((s.interval === undefined) === (s.cron === undefined)) throw new ScheduleError('set exactly one of schedule.interval or schedule.cron');
  if (s.interval !== undefined) return { kind: 'interval', intervalMs: parseDuration(s.interval), text: s.interval };
  return { kind: 'cron', cron: parseCron(s.cron ?? '') };
}

/**
 * When the next run is due: interval schedules run `intervalMs` after the last run started (right
 * away when there was none); cron schedules at the first match after the last run (or after `now`).
 */
export function nextRunTime(s: Schedule, lastRunStart: Date | undefined, now: Date): Date | undefined {
  if (s.kind === 'interval') return lastRunStart ? new Date(lastRunStart.getTime() + s.intervalMs) : now;
  return nextCronTime(s.cron, lastRunStart ?? now);
}

/** The schedule in words, for the Feed's printer column. */
export function describeSchedule(s: Schedule): string {
  return s.kind === 'interval' ? `every ${s.text}` : `cron ${s.cron.source}`;
}
