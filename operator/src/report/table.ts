/** The trends as a terminal reads them, pure: aligned tables and one line per headline figure. */
import type { Trends } from './trends.ts';

function table(head: readonly string[], rows: ReadonlyArray<readonly (string | number | null)[]>): string[] {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd());
}

function counts(title: string, c: Readonly<Record<string, number>>): string[] {
  const rows = Object.entries(c).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return rows.length === 0 ? [`${title}: none`] : [...table([title.toUpperCase(), 'ADMITTED'], rows), ''];
}

const pct = (r: number | null): string => (r === null ? 'n/a' : `${(r * 100).toFixed(1)}%`);
const dur = (ms: number | null): string => (ms === null ? 'n/a' : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);

/** The trends as text for a terminal. */
export function renderTrendsText(t: Trends): string {
  const lines = [
    `${t.since} .. ${t.until} (TLP up to ${t.maxTlp.toUpperCase()})`,
    `admitted ${t.totals.admitted}, revoked ${t.totals.revoked} (${pct(t.rates.revocation)}), rejected ${t.totals.rejected ?? 'unknown'} (${pct(t.rates.rejection)}), sightings ${t.totals.sightings}`,
    `time to quorum: median ${dur(t.timeToQuorum.p50Ms)}, p95 ${dur(t.timeToQuorum.p95Ms)} over ${t.timeToQuorum.count} admissions`,
    '',
    ...table(['WEEK', 'ADMITTED', 'REJECTED', 'REVOKED', 'SIGHTINGS'], t.byWeek.map((w) => [w.week, w.admitted, w.rejected, w.revoked, w.sightings])),
    '',
    ...counts('type', t.byType), ...counts('feed', t.byFeed), ...counts('partner', t.byPartner),
  ];
  if (t.feedQuality.length > 0) {
    lines.push(...table(['FEED', 'PROPOSED', 'REJECTED', 'REVOKED', 'NEVER SIGHTED'], t.feedQuality.map((f) => [f.feed, f.proposed, f.rejected === null ? null : `${f.rejected} (${pct(f.rejectedShare)})`, `${f.revoked} (${pct(f.revokedShare)})`, `${f.neverSighted} (${pct(f.neverSightedShare)})`])), '');
  }
  if (t.proposerQuality.length > 0) {
    lines.push(...table(['PROPOSER', 'PROPOSED', 'ADMITTED', 'REJECTED'], t.proposerQuality.map((p) => [p.proposer, p.proposed, p.admitted, p.rejected === null ? null : `${p.rejected} (${pct(p.rejectedShare)})`])), '');
  }
  if (t.topLabels.length > 0) lines.push(`top labels: ${t.topLabels.map((l) => `${l.label} ${l.count}`).join(', ')}`);
  if (t.topMalware.length > 0) lines.push(`malware families: ${t.topMalware.map((l) => `${l.family} ${l.count}`).join(', ')}`);
  if (t.sightingsHeatmap.length > 0) lines.push(`sightings by partner and week: ${t.sightingsHeatmap.map((h) => `${h.partner}@${h.week} ${h.count}`).join(', ')}`);
  if (t.totals.undated > 0) lines.push(`${t.totals.undated} records without a voting window (stored by an older version) are not counted by time`);
  lines.push(`note: ${t.rejections.note}`);
  return lines.join('\n') + '\n';
}
