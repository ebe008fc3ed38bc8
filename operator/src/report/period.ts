/**
 * Time arithmetic of reports, pure: `--since 30d` style durations, the report window, and ISO
 * 8601 weeks (Monday 00:00 UTC) that trends are bucketed by. No clock: callers pass `now`.
 */

const UNIT_MS: Readonly<Record<string, number>> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000 };

/** Longest window a report covers: about two years of weekly buckets. */
export const MAX_WINDOW_MS = 106 * UNIT_MS['w']!;

/** Parses `30d`, `2w`, `12h`, `1d12h` into milliseconds; throws a message that shows the format. */
export function parseSince(text: string): number {
  if (!/^(\d{1,4}[wdhm])+$/.test(text)) throw new Error(`"${text}" is not a duration: use whole numbers with units w, d, h, m, e.g. 30d, 2w or 12h`);
  let ms = 0;
  for (const m of text.matchAll(/(\d+)([wdhm])/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? 'd'] ?? 0);
  if (ms <= 0) throw new Error(`duration "${text}" is zero: use a positive duration such as 7d`);
  if (ms > MAX_WINDOW_MS) throw new Error(`duration "${text}" is longer than 106 weeks: report on a shorter window`);
  return ms;
}

/** A half-open time range [since, until). */
export interface Window {
  readonly since: Date;
  readonly until: Date;
}

/** The window that ends at `now` and lasts `ms`. */
export function windowEnding(now: Date, ms: number): Window {
  return { since: new Date(now.getTime() - ms), until: now };
}

/** True when `t` (epoch ms) falls inside `w`. */
export function inWindow(w: Window, t: number): boolean {
  return t >= w.since.getTime() && t < w.until.getTime();
}

/** Monday 00:00 UTC of the ISO week containing `d`. */
export function weekStart(d: Date): Date {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - sinceMonday * UNIT_MS['d']!);
}

/** The ISO 8601 week name of `d`, such as `2026-W48` (the year is the week's Thursday's). */
export function isoWeek(d: Date): string {
  const thursday = new Date(weekStart(d).getTime() + 3 * UNIT_MS['d']!);
  const year = thursday.getUTCFullYear();
  const firstThursday = weekStart(new Date(Date.UTC(year, 0, 4))).getTime() + 3 * UNIT_MS['d']!;
  const week = 1 + Math.round((thursday.getTime() - firstThursday) / UNIT_MS['w']!);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** One week bucket of a window: its ISO name and its part of the window [start, end). */
export interface WeekBucket {
  readonly week: string;
  readonly start: Date;
  readonly end: Date;
}

/** The ISO weeks `w` touches, oldest first, each clipped to the window. */
export function weeksOf(w: Window): WeekBucket[] {
  const out: WeekBucket[] = [];
  for (let s = weekStart(w.since); s.getTime() < w.until.getTime(); s = new Date(s.getTime() + UNIT_MS['w']!)) {
    const start = new Date(Math.max(s.getTime(), w.since.getTime()));
    const end = new Date(Math.min(s.getTime() + UNIT_MS['w']!, w.until.getTime()));
    out.push({ week: isoWeek(s), start, end });
  }
  return out;
}
