/**
 * `threatmesh ingest --dry-run --output ndjson` prints exactly `JSON.stringify(indicator)` per
 * line for every indicator the pipeline hands a sink, in order, through a real pipe (the
 * preview encodes lines into reused buffers, feeds/jsonbuf.ts): feeds with escapes, non-ASCII,
 * non-string fields (the JSON.stringify fallback), lines longer than one write batch, and
 * enough output to fill the pipe so buffers are reused while the reader lags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIngestion, type IngestSink } from '../feeds/ingest.ts';
import type { IngestedIndicator } from '../feeds/pipeline.ts';
import { parserFromOptions, type IngestCliOptions } from './ingest.ts';
import { loadWarningLists } from '../feeds/warninglists.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'tm-ingestpreview-')); });
after(() => rm(dir, { recursive: true, force: true }));

const longHost = `${'a'.repeat(60)}.`.repeat(4) + 'example-bad.net';
const CASES: ReadonlyArray<{ name: string; args: readonly string[]; body: string }> = [
  {
    name: 'a plain list with remarks, escapes and non-ASCII, larger than a pipe buffer',
    args: ['--format', 'lines'],
    body: Array.from({ length: 30_000 }, (_, i) => (i % 4 === 0 ? `203.0.${(i >> 8) & 255}.${i & 255} ; remark "q" \\ ü ${i}` : i % 4 === 1 ? `Host-${i}.Bücher-bad.net` : i % 4 === 2 ? `${longHost.slice(0, 40)}${i}.net\t# tab` : `198.18.${(i >> 8) & 255}.${i & 255}`)).join('\n'),
  },
  {
    name: 'a csv whose kept fields hold quotes, backslashes and control characters',
    args: ['--format', 'csv', '--header', '--column', 'ip'],
    body: 'ip,note,port\n' + Array.from({ length: 2_000 }, (_, i) => `45.33.${(i >> 8) & 255}.${i & 255},"say ""hi"" \\ \u0001 ${i}",${i}`).join('\n'),
  },
  {
    name: 'json items with number, null and nested fields (JSON.stringify fallback)',
    args: ['--format', 'jsonl', '--value-field', 'v'],
    body: Array.from({ length: 3_000 }, (_, i) => JSON.stringify({ v: `203.0.${(i >> 8) & 255}.${i & 255}`, n: i, x: null, o: { a: [i] }, s: 'é😀' })).join('\n'),
  },
  {
    name: 'lines longer than one 64 KiB write batch',
    args: ['--format', 'lines'],
    body: Array.from({ length: 40 }, (_, i) => `45.34.0.${i} ; ${'r'.repeat(i % 2 === 0 ? 70_000 : 30_000)}${i}`).join('\n'),
  },
];

function cliStdout(args: readonly string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, 'ingest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    // A slow reader: the pipe fills and the writer meets backpressure while buffers are in flight.
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1);
    });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

async function expected(path: string, opts: IngestCliOptions): Promise<string> {
  const lines: string[] = [];
  const sink: IngestSink = { add: (ind: IngestedIndicator) => { lines.push(JSON.stringify(ind) + '\n'); }, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
  await runIngestion({ source: { kind: 'file', path }, parser: parserFromOptions(opts) }, { sink, warningList: await loadWarningLists([]) });
  return lines.join('');
}

function optionsOf(args: readonly string[]): IngestCliOptions {
  const get = (flag: string): string | undefined => { const i = args.indexOf(flag); return i < 0 ? undefined : args[i + 1]; };
  return { format: get('--format') as IngestCliOptions['format'], header: args.includes('--header') ? true : undefined, column: get('--column'), valueField: get('--value-field'), warningLists: true, dryRun: true, output: 'ndjson', progressEvery: 100_000 };
}

for (const c of CASES) {
  test(`ingest --dry-run --output ndjson prints JSON.stringify of each indicator: ${c.name}`, async () => {
    const path = join(dir, 'feed');
    await writeFile(path, c.body);
    const r = await cliStdout(['--source', path, ...c.args, '--dry-run', '--output', 'ndjson']);
    assert.equal(r.code, 0, r.stderr);
    const want = await expected(path, optionsOf(c.args));
    assert.ok(want.length > 0, 'the feed yields indicators');
    assert.equal(r.stdout.toString('utf8'), want);
  });
}
