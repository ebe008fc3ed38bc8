/**
 * `threatmesh scan --log` on inputs that can only be read once from their start: `-` and
 * /dev/stdin fed by another process (Node's child stdio, a socket) and by a shell pipeline (a
 * pipe), and a FIFO made with mkfifo, plain and gzip-compressed. Each must print exactly what the same log read from a regular file prints
 * (positioned reads used to fail with ESPIPE). Splitting such an input into byte ranges (what a
 * LogScan's shards do) is refused with an error that says what to do.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { runCli, type CliRun } from '../harness/cli.ts';
import { ScanError } from '../../operator/src/match/errors.ts';
import { scanInput } from '../../operator/src/match/scan.ts';
import { expand, openRaw } from '../../operator/src/match/source.ts';
import { SnapshotBuilder } from '../../operator/src/match/snapshot.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
const testdata = fileURLToPath(new URL('../../operator/src/match/testdata/', import.meta.url));
const env = { ...process.env, LOG_LEVEL: 'warn' };
let dir = '';
let indicators = '';
let conn: Buffer;
let fromFile: CliRun;

/** The summary's counters that do not depend on timing. */
function counters(stderr: string): unknown {
  const line = stderr.split('\n').find((l) => l.startsWith('{"summary"'));
  assert.ok(line, stderr);
  const s = (JSON.parse(line) as { summary: Record<string, unknown> }).summary;
  return { outcome: s['outcome'], lines: s['lines'], bytes: s['bytes'], rejected: s['rejected'], matches: s['matches'], indicatorsSeen: s['indicatorsSeen'] };
}

/** A child process that writes `data` to its stdout in a few pieces, with pauses between them. */
function producer(data: Buffer): ReturnType<typeof spawn> {
  const script = `const d = Buffer.from(process.argv[1], 'base64'); let at = 0;
const next = () => { if (at >= d.length) return; const n = Math.ceil(d.length / 5); process.stdout.write(d.subarray(at, at + n)); at += n; setTimeout(next, 20); };
next();`;
  return spawn(process.execPath, ['-e', script, data.toString('base64')], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** `threatmesh scan ... --log <log>` with its standard input a real pipe from `producer(data)`. */
async function scanFromPipe(log: string, data: Buffer): Promise<CliRun> {
  const p = producer(data);
  const child = spawn(process.execPath, [MAIN, 'scan', '--indicators', indicators, '--log', log, '--format', 'zeek', '--output', 'ndjson'], { cwd: ROOT, env, stdio: [p.stdout ?? 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const [code] = await once(child, 'close') as [number | null];
  return { code: code ?? -1, stdout, stderr };
}

/** `cat FILE | threatmesh scan ... --log <log>` in a shell: a pipe(2), where Node's own child pipes are sockets. */
async function scanFromShellPipe(log: string, data: Buffer): Promise<CliRun> {
  const file = join(dir, `piped-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, data);
  const child = spawn('sh', ['-c', 'cat "$1" | "$2" "$3" scan --indicators "$4" --log "$5" --format zeek --output ndjson', 'sh', file, process.execPath, MAIN, indicators, log], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const [code] = await once(child, 'close') as [number | null];
  return { code: code ?? -1, stdout, stderr };
}

/** `threatmesh scan --log FIFO` while this process writes `data` into the FIFO. */
async function scanFromFifo(data: Buffer): Promise<CliRun> {
  const fifo = join(dir, `log-${Math.random().toString(36).slice(2)}.fifo`);
  execFileSync('mkfifo', [fifo]);
  const scan = runCli(['scan', '--indicators', indicators, '--log', fifo, '--format', 'zeek', '--output', 'ndjson'], { env });
  const w = createWriteStream(fifo);
  const written = (async () => {
    for (let at = 0; at < data.length; at += 700) if (!w.write(data.subarray(at, at + 700))) await once(w, 'drain');
    w.end();
    await once(w, 'close');
  })().catch(() => undefined);
  const r = await scan;
  // A scan that ended without reading the FIFO would leave the writer blocked in open(2): give it a reader.
  const unblock = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  w.destroy();
  await written;
  await unblock.close();
  return r;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scan-pipe-'));
  const ingest = await runCli(['ingest', '--source', join(testdata, 'indicators.txt'), '--format', 'lines', '--dry-run', '--output', 'ndjson', '--no-warning-lists'], { env });
  assert.equal(ingest.code, 0, ingest.stderr);
  indicators = join(dir, 'indicators.ndjson');
  await writeFile(indicators, ingest.stdout);
  conn = await readFile(join(testdata, 'zeek-conn.log'));
  fromFile = await runCli(['scan', '--indicators', indicators, '--log', join(testdata, 'zeek-conn.log'), '--format', 'zeek', '--output', 'ndjson'], { env });
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.ok(fromFile.stdout.trim().split('\n').length >= 3, 'the log hits several indicators');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const CASES: ReadonlyArray<readonly [string, () => Promise<CliRun>]> = [
  ['--log - from a child process', () => scanFromPipe('-', conn)],
  ['--log /dev/stdin from a child process (a socket)', () => scanFromPipe('/dev/stdin', conn)],
  ['--log /dev/stdin from a shell pipeline (a pipe)', () => scanFromShellPipe('/dev/stdin', conn)],
  ['--log - from a shell pipeline (a pipe)', () => scanFromShellPipe('-', conn)],
  ['--log - from a child process, gzip-compressed', () => scanFromPipe('-', gzipSync(conn))],
  ['--log FIFO (mkfifo)', () => scanFromFifo(conn)],
  ['--log FIFO, gzip-compressed', () => scanFromFifo(gzipSync(conn))],
];

for (const [name, run] of CASES) {
  test(`${name}: the same sightings and counts as the regular file`, async () => {
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /ESPIPE/);
    assert.equal(r.stdout, fromFile.stdout);
    assert.deepEqual(counters(r.stderr), counters(fromFile.stderr));
  });
}

test('a FIFO cannot be split into byte ranges: a clear error, before anything is read from it', async () => {
  const fifo = join(dir, 'shard.fifo');
  execFileSync('mkfifo', [fifo]);
  const [found] = await expand({ kind: 'file', path: fifo });
  assert.ok(found);
  assert.deepEqual(found, { loc: { kind: 'file', path: fifo, pipe: true }, size: undefined });
  const snap = new SnapshotBuilder().build();
  const cases: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
    ['a shard of a scan', () => scanInput(found.loc, { start: 100, end: 200 }, { format: 'zeek', snapshot: () => snap })],
    ['a peek at the first bytes', async () => { for await (const c of openRaw(found.loc, { start: 0, end: 4 })) return c; return undefined; }],
  ];
  for (const [what, read] of cases) {
    await assert.rejects(read(), (err: unknown) => {
      assert.ok(err instanceof ScanError, what);
      assert.equal(err.code, 'bad-config');
      assert.match(err.message, /is a pipe, FIFO or terminal.*not by byte ranges.*scan it whole/);
      return true;
    });
  }
});
