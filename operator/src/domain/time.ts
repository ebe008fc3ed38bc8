/** ISO 8601 timestamps as the protocol carries them: a date, a time and an explicit zone. */

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** True when `value` is an ISO 8601 timestamp with a zone, such as `2026-01-02T03:04:05Z`, that parses to a real time. */
export function isIsoTimestamp(value: unknown): value is string {
  return typeof value === 'string' && ISO_8601.test(value) && Number.isFinite(Date.parse(value));
}

/** Milliseconds since the epoch of a Date or an {@link isIsoTimestamp} string; NaN for anything else. */
export function timestampMillis(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  return isIsoTimestamp(value) ? Date.parse(value) : NaN;
}
