/**
 * RFC 3339 timestamps as the protocol and the API carry them: a date, a time and an explicit
 * zone, every field within its calendar range. `Date.parse` alone is not a validator: it rolls
 * `2026-04-31` over to May 1 and `24:00` to the next day, so two spellings would name one
 * instant and impossible dates would pass; these checks refuse them.
 */

// Groups: year, month, day, hour, minute, second, fraction, zone (Z or ±hh:mm), offset hours, offset minutes.
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
const MAX_FRACTION_DIGITS = 9;

/** Days in `month` (1-12) of `year` (proleptic Gregorian, as RFC 3339 §5.7). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** True when year-month-day is a real calendar date (month 1-12, day 1 to the month's length). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  return Number.isInteger(year) && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * True when `value` is an RFC 3339 date-time (§5.6) whose fields are all in range: month 1-12,
 * day within the month (leap years included), hour 0-23, minute 0-59, second 0-59 (leap
 * seconds are refused, as `Date.parse` and the API server's Go parser refuse them), zone `Z` or
 * an offset up to ±23:59. `t`/`z` may be lower case, as RFC 3339 allows.
 */
export function isRfc3339DateTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = RFC_3339.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return isCalendarDate(year, month, day) && hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
}

/**
 * True when `value` is a timestamp in the protocol's form, such as `2026-01-02T03:04:05Z`: an
 * {@link isRfc3339DateTime} with upper-case `T` and `Z` and at most 9 fraction digits.
 */
export function isIsoTimestamp(value: unknown): value is string {
  // Past the RFC 3339 match only the T/Z separators can be letters: refuse their lower-case spellings.
  if (!isRfc3339DateTime(value) || value.includes('t') || value.includes('z')) return false;
  const dot = value.indexOf('.');
  if (dot < 0) return true;
  let end = dot + 1;
  while (end < value.length && value.charCodeAt(end) >= 48 && value.charCodeAt(end) <= 57) end++;
  return end - dot - 1 <= MAX_FRACTION_DIGITS;
}

/** Milliseconds since the epoch of a Date or an {@link isIsoTimestamp} string; NaN for anything else. */
export function timestampMillis(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  return isIsoTimestamp(value) ? Date.parse(value) : NaN;
}
