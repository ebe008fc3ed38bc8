/** Every format against the test logs in testdata/ (written from each format's documentation). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadIndicatorFile } from './indicatorfile.ts';
import { scanInput } from './scan.ts';
import type { LogFormat } from './formats/index.ts';

const dir = fileURLToPath(new URL('./testdata/', import.meta.url));

interface Case {
  readonly file: string;
  readonly format: LogFormat;
  /** value → [count, firstSeen] */
  readonly seen: Readonly<Record<string, readonly [number, string]>>;
  readonly rejected: Readonly<Record<string, number>>;
  readonly lines: number;
}

const URL_IND = 'http://shop.example.net/checkout/pay.php?id=1';
const EICAR = { md5: '44d88612fea8a8f36de82e1278abb02f', sha1: '3395856ce81f2b7382dee72602f798b642f14140', sha256: '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' };

const CASES: readonly Case[] = [
  { file: 'zeek-conn.log', format: 'zeek', lines: 17, rejected: { 'missing-fields': 1 }, seen: {
    '203.0.113.66': [2, '2024-05-01T12:00:00.100Z'], '198.51.100.0/24': [1, '2024-05-01T12:01:00.200Z'], '198.51.0.0/16': [1, '2024-05-01T12:02:00.300Z'],
    '2001:db8::bad': [1, '2024-05-01T13:00:00.000Z'], '2001:db8:ff::/48': [1, '2024-05-01T13:01:00.000Z'] } },
  { file: 'zeek-dns.log', format: 'zeek', lines: 15, rejected: { 'missing-fields': 1 }, seen: {
    'evil.example': [3, '2024-05-01T12:00:00.000Z'], 'malware.test': [1, '2024-05-01T12:00:02.000Z'], '198.51.100.0/24': [1, '2024-05-01T12:00:02.000Z'], '203.0.113.66': [1, '2024-05-01T12:00:04.000Z'] } },
  { file: 'zeek-http.log', format: 'zeek', lines: 12, rejected: {}, seen: { [URL_IND]: [1, '2024-05-01T12:00:00.500Z'], 'malware.test': [1, '2024-05-01T12:00:02.500Z'] } },
  { file: 'zeek-ssl.log', format: 'zeek', lines: 11, rejected: {}, seen: { 'evil.example': [1, '2024-05-01T12:01:40.000Z'] } },
  { file: 'zeek-files.log', format: 'zeek', lines: 10, rejected: {}, seen: { [EICAR.md5]: [1, '2024-05-01T12:03:20.000Z'], [EICAR.sha1]: [1, '2024-05-01T12:03:20.000Z'], [EICAR.sha256]: [1, '2024-05-01T12:03:20.000Z'] } },
  { file: 'zeek-dns.json', format: 'zeek', lines: 4, rejected: { 'invalid-json': 1 }, seen: { '203.0.113.66': [1, '2024-05-01T12:00:00.250Z'], 'evil.example': [1, '2024-05-01T12:00:00.250Z'], 'malware.test': [1, '2024-05-01T12:00:02.000Z'] } },
  { file: 'suricata-eve.json', format: 'suricata-eve', lines: 8, rejected: { 'invalid-json': 1, 'bad-timestamp': 1 }, seen: {
    'evil.example': [2, '2024-05-01T12:00:00.000Z'], 'malware.test': [1, '2024-05-01T12:00:00.010Z'], '198.51.100.0/24': [1, '2024-05-01T12:00:00.010Z'], [URL_IND]: [1, '2024-05-01T12:00:01.000Z'],
    '2001:db8::bad': [1, '2024-05-01T12:00:03.000Z'], [EICAR.md5]: [1, '2024-05-01T12:00:05.000Z'], [EICAR.sha1]: [1, '2024-05-01T12:00:05.000Z'], [EICAR.sha256]: [1, '2024-05-01T12:00:05.000Z'] } },
  { file: 'access-combined.log', format: 'combined', lines: 6, rejected: { 'not-combined-format': 1 }, seen: {
    '203.0.113.66': [1, '2024-05-01T12:00:00.000Z'], [URL_IND]: [1, '2024-05-01T12:00:01.000Z'], 'evil.example': [1, '2024-05-01T12:00:01.000Z'], 'malware.test': [1, '2024-05-01T12:00:02.000Z'], '198.51.100.0/24': [1, '2024-05-01T12:00:04.000Z'] } },
  { file: 'squid-access.log', format: 'squid', lines: 5, rejected: { 'not-squid-format': 1 }, seen: { [URL_IND]: [1, '2024-05-01T12:00:00.123Z'], 'evil.example': [1, '2024-05-01T12:00:02.789Z'], '203.0.113.66': [2, '2024-05-01T12:00:02.789Z'] } },
  { file: 'cef.log', format: 'cef', lines: 6, rejected: { 'not-cef': 1, 'bad-timestamp': 1 }, seen: {
    '203.0.113.66': [1, '2024-05-01T12:00:00.000Z'], 'evil.example': [1, '2024-05-01T12:00:01.000Z'], [URL_IND]: [1, '2024-05-01T12:00:01.000Z'], [EICAR.sha256]: [1, '2024-05-01T12:00:02.000Z'], '198.51.100.0/24': [1, '2024-05-01T12:00:03.000Z'] } },
  { file: 'flows.csv', format: 'csv', lines: 6, rejected: { 'column-count': 1, 'unterminated-quote': 1 }, seen: {
    '203.0.113.66': [1, '2024-05-01T12:00:00.000Z'], 'evil.example': [1, '2024-05-01T12:00:00.000Z'], '198.51.100.0/24': [1, '2024-05-01T12:00:01.000Z'], '198.51.0.0/16': [1, '2024-05-01T12:00:02.000Z'] } },
];

for (const c of CASES) {
  test(`${c.format}: ${c.file}`, async () => {
    const { snapshot } = await loadIndicatorFile(`${dir}indicators.ndjson`);
    const { tally, stats } = await scanInput({ kind: 'file', path: `${dir}${c.file}` }, undefined, { format: c.format, snapshot: () => snapshot });
    const seen = Object.fromEntries(tally.entries().map((e) => [e.value, [e.count, new Date(e.firstSeen).toISOString()]]));
    assert.deepEqual(seen, c.seen);
    assert.deepEqual(stats.rejected, c.rejected);
    assert.equal(stats.lines, c.lines);
    for (const [reason, samples] of Object.entries(stats.samples)) assert.ok(samples.length > 0 && samples.length <= 3, reason);
  });
}

test('the same record hitting one indicator through several fields counts once; sightings carry hour buckets and source types', async () => {
  const { snapshot } = await loadIndicatorFile(`${dir}indicators.ndjson`);
  const { tally } = await scanInput({ kind: 'file', path: `${dir}zeek-conn.log` }, undefined, { format: 'zeek', snapshot: () => snapshot });
  const ip = tally.entries().find((e) => e.value === '203.0.113.66');
  assert.ok(ip);
  assert.deepEqual([...ip.buckets.entries()].map(([k, b]) => [new Date(k).toISOString(), b.count, b.sources]), [
    ['2024-05-01T12:00:00.000Z', 1, { 'zeek:conn': 1 }], ['2024-05-01T13:00:00.000Z', 1, { 'zeek:conn': 1 }],
  ]);
});
