/**
 * Child process of `npm run bench -- scale`, ingest stage: `node bench/scale-ingest.ts MODE
 * FORMAT FILE` ingests FILE (csv in the Feodo layout, or a plain list) and prints one JSON line
 * {processed, new, cpuMs, wallMs, rssMb}. MODE `pipeline` runs the product path
 * (feeds/ingest.ts runIngestion: read, parse, detect, normalize, warning lists, digest, de-dup,
 * the IngestedIndicator each sink receives); MODE `bare` is the same work as one hand-written
 * loop over the file's lines with the same domain functions and the same de-dup table, building
 * the same output object, without the pipeline (no parser framework, batches, report or async
 * iteration): the yardstick the issue sets ("no slower than a bare Node loop"). Both detect and
 * normalize the same way (the csv preset names its type, ipv4; a plain list is detected, quick
 * paths first: domain/fastnormalize.ts), split a list line with the lines parser's splitValue,
 * and bound the de-dup table alike; the bare loop reads csv columns with a plain split on commas
 * and does not validate UTF-8, so it does a little less than the pipeline, never more.
 */
import { createReadStream } from 'node:fs';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { detectCanonical, quickIndicator } from '../operator/src/domain/fastnormalize.ts';
import { detectType, normalize, type Indicator, type IndicatorType } from '../operator/src/domain/indicator.ts';
import { stixPattern } from '../operator/src/domain/stix.ts';
import { DigestSet } from '../operator/src/domain/digestset.ts';
import { runIngestion } from '../operator/src/feeds/ingest.ts';
import { splitValue } from '../operator/src/feeds/lines.ts';
import { DEFAULT_DEDUP_SLOTS, type IngestedIndicator } from '../operator/src/feeds/pipeline.ts';
import { PRESETS } from '../operator/src/feeds/presets.ts';
import { loadWarningLists, type WarningList } from '../operator/src/feeds/warninglists.ts';
import { cpuMillis } from './lib.ts';

const [mode, format, file] = process.argv.slice(2) as [string, 'csv' | 'lines', string];

async function pipeline(wl: WarningList): Promise<{ processed: number; added: number }> {
  let added = 0;
  const parser = format === 'csv' ? PRESETS['feodo']!.parser : { format: 'lines' as const, lines: {} };
  const r = await runIngestion({ source: { kind: 'file', path: file }, parser }, {
    warningList: wl, sink: { add: () => { added++; }, commit: () => Promise.resolve(), abort: () => Promise.resolve() },
  });
  if (r.report.outcome !== 'succeeded') throw new Error(`ingest failed: ${JSON.stringify(r.report.error)}`);
  return { processed: r.report.fetched, added };
}

// The value and the kept fields of one line, as the csv (Feodo columns) and lines parsers read them.
function split(line: string): { value: string; fields?: Record<string, string> } | undefined {
  if (format === 'csv') {
    if (line.startsWith('#') || line === '') return undefined;
    const cols = line.split(',').map((c) => c.slice(1, -1));
    return { value: cols[1] ?? '', fields: { first_seen_utc: cols[0] ?? '', dst_port: cols[2] ?? '', c2_status: cols[3] ?? '', last_online: cols[4] ?? '', malware: cols[5] ?? '' } };
  }
  const t = line.trim();
  if (t === '' || t.startsWith('#') || t.startsWith(';')) return undefined;
  const v = splitValue(t);
  return v.remark === '' ? { value: v.value } : { value: v.value, fields: { remark: v.remark } };
}

// The csv preset (Feodo) names its type; a plain list's values are detected.
const csvType: IndicatorType | undefined = format === 'csv' ? 'ipv4' : undefined;

function indicatorOf(value: string): Indicator | undefined {
  const quick = csvType === undefined ? detectCanonical(value) : quickIndicator(csvType, value);
  if (quick !== undefined) return quick;
  const type = csvType ?? detectType(value);
  const n = type === undefined ? undefined : normalize(type, value);
  return n?.ok === true ? n.indicator : undefined;
}

async function bare(wl: WarningList): Promise<{ processed: number; added: number }> {
  const seen = new DigestSet(undefined, DEFAULT_DEDUP_SLOTS);
  let processed = 0;
  let added = 0;
  let lineNo = 0;
  let sink: IngestedIndicator | undefined;
  const one = (line: string): void => {
    lineNo++;
    const rec = split(line);
    if (rec === undefined) return;
    processed++;
    const ind = indicatorOf(rec.value);
    if (ind === undefined || wl.match(ind) !== undefined) return;
    const digest = indicatorDigest(ind);
    if (!seen.add(digest)) return;
    sink = { type: ind.type, value: ind.value, pattern: stixPattern(ind), digest, fields: rec.fields, where: `line ${lineNo}` };
    added++;
  };
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' }) as AsyncIterable<string>) {
    const lines = (carry + chunk).split('\n');
    carry = lines.pop() ?? '';
    for (const l of lines) one(l);
  }
  if (carry !== '') one(carry);
  if (added > 0 && sink === undefined) throw new Error('unreachable');
  return { processed, added };
}

const wl = await loadWarningLists();
const cpu0 = cpuMillis();
const t0 = performance.now();
const r = mode === 'bare' ? await bare(wl) : await pipeline(wl);
process.stdout.write(JSON.stringify({ ...r, cpuMs: cpuMillis() - cpu0, wallMs: performance.now() - t0, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
