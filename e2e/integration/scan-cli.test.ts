/**
 * `threatmesh scan` as a user runs it: indicators from `threatmesh ingest --dry-run --output
 * ndjson`, logs from a file, a directory, an HTTP server and a real S3-compatible store
 * (versitygw, signatures checked), the NDJSON sightings on stdout and the summary on stderr;
 * a truncated gzip exits 1 naming its byte offset and prints no sightings; bad flags say what to do.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { runCli } from '../harness/cli.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { startS3, type S3Server } from '../harness/s3.ts';

const testdata = fileURLToPath(new URL('../../operator/src/match/testdata/', import.meta.url));
let dir = '';
let indicators = '';
let s3: S3Server;
let http: Server;
let base = '';
const env = { ...process.env, LOG_LEVEL: 'warn' };

interface Sighting { type: string; value: string; digest: string; count: number; firstSeen: string; lastSeen: string }

function sightings(stdout: string): Sighting[] {
  return stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Sighting).sort((a, b) => a.value.localeCompare(b.value));
}

function summary(stderr: string): Record<string, unknown> {
  const line = stderr.split('\n').find((l) => l.startsWith('{"summary"'));
  assert.ok(line, stderr);
  return (JSON.parse(line) as { summary: Record<string, unknown> }).summary;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scan-cli-'));
  const ingest = await runCli(['ingest', '--source', join(testdata, 'indicators.txt'), '--format', 'lines', '--dry-run', '--output', 'ndjson', '--no-warning-lists'], { env });
  assert.equal(ingest.code, 0, ingest.stderr);
  indicators = join(dir, 'indicators.ndjson');
  await writeFile(indicators, ingest.stdout);
  const conn = await readFile(join(testdata, 'zeek-conn.log'));
  await writeFile(join(dir, 'conn.log.gz'), gzipSync(conn));
  await writeFile(join(dir, 'cut.log.gz'), gzipSync(conn).subarray(0, 200));
  s3 = await startS3(controlPlaneOptionsFromEnv().cacheDir);
  await s3.createBucket('logs');
  await s3.put('logs', 'zeek/conn.log', conn);
  await s3.put('logs', 'zeek/dns.log.gz', gzipSync(await readFile(join(testdata, 'zeek-dns.log'))));
  await writeFile(join(dir, 's3.json'), JSON.stringify({ accessKeyId: s3.config.accessKeyId, secretAccessKey: s3.config.secretAccessKey }));
  await writeFile(join(dir, 's3-wrong.json'), JSON.stringify({ accessKeyId: s3.config.accessKeyId, secretAccessKey: 'wrong' }));
  const eve = await readFile(join(testdata, 'suricata-eve.json'));
  http = createServer((req, res) => {
    if (req.url !== '/eve.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': eve.length }).end(eve);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((r) => http?.close(r));
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a Zeek log: one NDJSON line per indicator seen, with the listed type, value and digest, and the summary', async () => {
  const run = await runCli(['scan', '--indicators', indicators, '--log', join(testdata, 'zeek-conn.log'), '--format', 'zeek', '--output', 'ndjson'], { env });
  assert.equal(run.code, 0, run.stderr);
  const listed = new Map((await readFile(indicators, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { value: string; digest: string; type: string }).map((i) => [i.value, i]));
  const got = sightings(run.stdout);
  assert.deepEqual(got.map((s) => [s.value, s.count, s.firstSeen, s.lastSeen]), [
    ['198.51.0.0/16', 1, '2024-05-01T12:02:00.300Z', '2024-05-01T12:02:00.300Z'],
    ['198.51.100.0/24', 1, '2024-05-01T12:01:00.200Z', '2024-05-01T12:01:00.200Z'],
    ['2001:db8::bad', 1, '2024-05-01T13:00:00.000Z', '2024-05-01T13:00:00.000Z'],
    ['2001:db8:ff::/48', 1, '2024-05-01T13:01:00.000Z', '2024-05-01T13:01:00.000Z'],
    ['203.0.113.66', 2, '2024-05-01T12:00:00.100Z', '2024-05-01T13:01:20.000Z'],
  ]);
  for (const s of got) {
    assert.deepEqual(Object.keys(s), ['type', 'value', 'digest', 'count', 'firstSeen', 'lastSeen']);
    assert.equal(s.digest, listed.get(s.value)?.digest);
    assert.equal(s.type, listed.get(s.value)?.type);
  }
  const sum = summary(run.stderr);
  assert.equal(sum['lines'], 17);
  assert.deepEqual(sum['rejected'], { 'missing-fields': 1 });
  assert.equal(sum['matches'], 6);
  assert.ok((sum['linesPerSecond'] as number) > 0);
});

test('sources: a directory with a gzip file, an S3 prefix (signed), an HTTP URL', async () => {
  const gz = await runCli(['scan', '--indicators', indicators, '--log', join(dir, 'conn.log.gz'), '--format', 'zeek'], { env });
  assert.equal(gz.code, 0, gz.stderr);
  assert.equal(summary(gz.stderr)['matches'], 6);
  const viaS3 = await runCli(['scan', '--indicators', indicators, '--log', 's3://logs/zeek/', '--format', 'zeek', '--s3-endpoint', s3.config.endpoint, '--s3-credentials', join(dir, 's3.json')], { env });
  assert.equal(viaS3.code, 0, viaS3.stderr);
  assert.equal(summary(viaS3.stderr)['matches'], 10, 'conn (6) and dns (4) records');
  const refused = await runCli(['scan', '--indicators', indicators, '--log', `${base}/eve.json`, '--format', 'suricata-eve'], { env });
  assert.notEqual(refused.code, 0, 'an internal address is refused without --allow-internal, as for feeds');
  assert.match(refused.stderr, /feeds may not reach internal addresses/);
  const viaHttp = await runCli(['scan', '--indicators', indicators, '--log', `${base}/eve.json`, '--format', 'suricata-eve', '--allow-internal', '127.0.0.1/32'], { env });
  assert.equal(viaHttp.code, 0, viaHttp.stderr);
  assert.equal(sightings(viaHttp.stdout).length, 8);
});

test('failures exit non-zero, print no sightings and say what to do', async () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ['truncated gzip', ['--log', join(dir, 'cut.log.gz'), '--format', 'zeek'], 1, /truncated: the input ends at compressed byte offset 200\b/],
    ['wrong S3 secret', ['--log', 's3://logs/zeek/', '--format', 'zeek', '--s3-endpoint', s3.config.endpoint, '--s3-credentials', join(dir, 's3-wrong.json')], 1, /check the access key and secret/],
    ['HTTP 404', ['--log', `${base}/missing.json`, '--format', 'suricata-eve', '--allow-internal', '127.0.0.1/32'], 1, /HTTP 404/],
    ['missing file', ['--log', join(dir, 'nope.log'), '--format', 'zeek'], 1, /cannot read .*nope\.log/],
    ['no format', ['--log', join(dir, 'conn.log.gz')], 2, /give --indicators FILE, --log .* and --format/],
    ['unknown format', ['--log', join(dir, 'conn.log.gz'), '--format', 'pcap'], 2, /Allowed choices are zeek, suricata-eve, combined, squid, cef, csv/],
    ['s3 without endpoint', ['--log', 's3://logs/zeek/', '--format', 'zeek'], 2, /--s3-endpoint URL and --s3-credentials FILE/],
  ];
  for (const [name, args, code, message] of cases) {
    const run = await runCli(['scan', '--indicators', indicators, ...args], { env });
    assert.equal(run.code, code, `${name}: ${run.stderr}`);
    assert.equal(run.stdout, '', name);
    assert.match(run.stderr, message, name);
  }
  const notIndicators = await runCli(['scan', '--indicators', join(testdata, 'zeek-conn.log'), '--log', join(testdata, 'zeek-conn.log'), '--format', 'zeek'], { env });
  assert.equal(notIndicators.code, 1);
  assert.match(notIndicators.stderr, /no usable indicator .* 'threatmesh ingest --source FEED --format F --dry-run --output ndjson/);
  const help = await runCli(['scan', '--help'], { env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--indicators <file>/);
});
