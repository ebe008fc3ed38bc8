/**
 * Indicator normalization on the feed hot path: a deterministic corpus of raw feed values
 * (mixed types, upper case, trailing dots, defanged forms, full-form IPv6, host bits, ~5% junk),
 * measured as values per second on one core. Target: 300,000/s including parsing.
 */
import { emit, median, progress, rate, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { detectType, normalize, type IndicatorType } from '../operator/src/domain/indicator.ts';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { parseStixPattern, stixPattern, toStixIndicator } from '../operator/src/domain/stix.ts';

/** What `npm run bench -- normalize --help` prints. */
const USAGE: BenchUsage = {
  name: 'normalize',
  measures: 'Indicator normalization on the feed hot path: values per second on one core over a deterministic corpus of 20,000 raw feed values (mixed types, upper case, trailing dots, defanged forms, full-form IPv6, host bits, ~5% junk), per type, plus STIX pattern parsing and writing. Target: 300,000/s including parsing. No arguments.',
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

const CORPUS_SIZE = 20_000;
const RUN_MS = 1500;
const REPEATS = 3;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function hex(next: () => number, digits: number): string {
  let out = '';
  while (out.length < digits) out += next().toString(16).padStart(8, '0');
  return out.slice(0, digits);
}

function rawValue(next: () => number, i: number): readonly [IndicatorType, string] {
  return i % 10 < 5 ? networkValue(next(), i) : otherValue(next, i);
}

function networkValue(n: number, i: number): readonly [IndicatorType, string] {
  const octet = (k: number): number => (n >>> (k * 8)) & 255;
  switch (i % 10) {
    case 0: return ['ipv4', `${octet(0)}.${octet(1)}.${octet(2)}${i % 7 === 0 ? '[.]' : '.'}${octet(3)}`];
    case 1: return ['ipv6', `2001:0DB8:${(n & 0xffff).toString(16)}:0000:0000:0000:0000:${(n >>> 16).toString(16)}`];
    case 2: return ['cidr', `${octet(0)}.${octet(1)}.${octet(2)}.${octet(3)}/${8 + (n % 25)}`];
    case 3: return ['domain', `Host-${n.toString(36)}.Example${i % 97}.COM${i % 3 === 0 ? '.' : ''}`];
    default: return ['domain', i % 20 === 4 ? `bad_${n}.example` : `evil${n % 1000}[.]cdn-${i % 13}.net`];
  }
}

function otherValue(next: () => number, i: number): readonly [IndicatorType, string] {
  const n = next();
  switch (i % 10) {
    case 5: return ['url', `${i % 2 === 0 ? 'hxxp' : 'HTTP'}://Evil${n % 5000}.Example.com:80/path/${n.toString(36)}/../dl.php?id=${i}#frag`];
    case 6: return ['url', `https://cdn${n % 300}.example.org/assets/${n.toString(16)}.js?v=${i}`];
    case 7: return ['sha256', hex(next, 64).toUpperCase()];
    case 8: return i % 3 === 0 ? ['md5', hex(next, 32)] : ['sha1', hex(next, 40)];
    default: return ['email', i % 20 === 9 ? `broken..${n}@example.com` : `Phish.${n % 9000}@Mail${i % 50}.Example.com`];
  }
}

function corpus(): (readonly [IndicatorType, string])[] {
  const next = lcg(42);
  return Array.from({ length: CORPUS_SIZE }, (_, i) => rawValue(next, i));
}

function measure(label: string, values: readonly (readonly [IndicatorType, string])[], fn: (type: IndicatorType, raw: string) => unknown): number {
  let i = 0;
  const step = (): void => {
    const v = values[i]!;
    fn(v[0], v[1]);
    i = i + 1 === values.length ? 0 : i + 1;
  };
  rate(step, 300); // warm up the JIT
  // Per-core figure: calls per second of this process's CPU time (the machine is shared).
  const runs = Array.from({ length: REPEATS }, () => rate(step, RUN_MS).cpu);
  const value = median(runs);
  progress(`${label}: ${Math.round(value).toLocaleString('en-US')}/s per core`);
  return value;
}

const values = corpus();
const rejected = values.filter(([t, v]) => !normalize(t, v).ok).length;
progress(`corpus: ${values.length} values, ${rejected} rejected by normalize`);

const created = new Date('2026-01-01T00:00:00Z');
const accepted = values.flatMap(([t, v]) => { const r = normalize(t, v); return r.ok ? [r.indicator] : []; });
const patterns = accepted.map(stixPattern);

const results: BenchResult[] = [
  { metric: 'normalize (mixed corpus)', value: round(measure('normalize', values, (t, v) => normalize(t, v))), unit: 'values/s per core' },
  { metric: 'detectType + normalize', value: round(measure('detectType + normalize', values, (_t, v) => { const t = detectType(v); return t === undefined ? undefined : normalize(t, v); })), unit: 'values/s per core' },
  {
    metric: 'normalize + digest', unit: 'values/s per core',
    value: round(measure('normalize + digest', values, (t, v) => { const r = normalize(t, v); return r.ok ? indicatorDigest(r.indicator) : undefined; })),
  },
];
for (const type of ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'sha256', 'email'] as const) {
  const subset = values.filter(([t]) => t === type);
  results.push({ metric: `normalize ${type}`, value: round(measure(`normalize ${type}`, subset, (t, v) => normalize(t, v))), unit: 'values/s per core' });
}
const patternRows = patterns.map((p) => ['url', p] as const);
results.push({ metric: 'parseStixPattern (one comparison)', value: round(measure('parseStixPattern', patternRows, (_t, p) => parseStixPattern(p))), unit: 'patterns/s per core' });
const indicatorRows = accepted.map((ind) => [ind.type, ind.value] as const);
results.push({
  metric: 'toStixIndicator', unit: 'objects/s per core',
  value: round(measure('toStixIndicator', indicatorRows, (type, value) => toStixIndicator({ type, value }, { created, tlp: 'amber', confidence: 80 }))),
});
emit(results);
