import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidate } from './fixtures.ts';
import { renderHtml, renderMarkdown, reportId, type ReportDocument } from './render.ts';
import { assembleTrends } from './trends.ts';

const c = candidate({ type: 'url', value: 'https://x.example/<script>alert(1)</script>', sightings: 3 });
const w = { since: new Date('2026-11-01T00:00:00Z'), until: new Date('2026-11-29T00:00:00Z') };
const doc: ReportDocument = {
  id: 'ns.weekly.20261129T000000Z', report: 'ns/weekly', createdAt: '2026-11-29T00:00:00.000Z', since: w.since.toISOString(), until: w.until.toISOString(), tlp: 'amber',
  summary: { generator: 'model', headline: 'C2 <b>surge</b> & more', keyThreats: [{ title: 'Phishing | kit', citations: [c.digest] }], trends: ['up *a lot*'], recommendedActions: ['block'], citations: [c.digest] },
  model: 'smollm2', fallbackReason: undefined, attempts: [], cited: [c], trends: assembleTrends(w, 'amber', { byType: {}, byFeed: {}, byPartner: {}, weeks: [], timeToQuorumMs: [], labels: {}, heatmap: [], feeds: [], undated: 0 }, undefined),
};

test('Markdown: TLP marking first, sections, cited indicators, escaped', () => {
  const md = renderMarkdown(doc);
  assert.match(md, /^\*\*TLP:AMBER\*\*\n\n# C2 \\<b\\>surge\\<\/b\\> & more/);
  for (const h of ['## Key threats', '## Trends', '## Recommended actions', '## Cited indicators']) assert.ok(md.includes(h), h);
  assert.match(md, /- Phishing \\\| kit \(`[0-9a-f]{12}`\)/);
  assert.match(md, /written by model smollm2/);
});

test('HTML: self-contained, every value escaped', () => {
  const html = renderHtml(doc);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<strong>TLP:AMBER<\/strong>/);
  assert.ok(!html.includes('<script>'), 'no markup from the data');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('C2 &lt;b&gt;surge&lt;/b&gt; &amp; more'));
});

test('report ids are sortable and name the ThreatReport', () => {
  assert.equal(reportId('ns/weekly', new Date('2026-11-29T08:07:06.123Z')), 'ns.weekly.20261129T080706Z');
  assert.equal(reportId('', new Date('2026-11-29T08:07:06Z')), 'cli.20261129T080706Z');
});
