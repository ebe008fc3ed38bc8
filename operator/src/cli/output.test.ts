import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command, CommanderError } from 'commander';
import { parse } from 'yaml';
import { addOutputFlags, emit, outputFormat, type OutputFormat, type OutputSpec } from './output.ts';
import { UsageError } from './errors.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const run = promisify(execFile);
const LIST: OutputSpec = { formats: ['table', 'json', 'yaml', 'ndjson'] };
const LINES: OutputSpec = { formats: ['table', 'json', 'yaml', 'ndjson'], json: 'ndjson' };

describe('outputFormat', () => {
  const cases: ReadonlyArray<{ name: string; flags: { output?: string; json?: boolean }; spec: OutputSpec; want: OutputFormat | 'usage' }> = [
    { name: 'nothing asked: the human form', flags: {}, spec: LIST, want: 'table' },
    { name: '-o yaml', flags: { output: 'yaml' }, spec: LIST, want: 'yaml' },
    { name: '--json is json', flags: { json: true }, spec: LIST, want: 'json' },
    { name: '--json keeps what it printed before -o (ndjson)', flags: { json: true }, spec: LINES, want: 'ndjson' },
    { name: '--json with -o json agrees', flags: { json: true, output: 'json' }, spec: LIST, want: 'json' },
    { name: '--json with -o table (the default) is json', flags: { json: true, output: 'table' }, spec: LIST, want: 'json' },
    { name: '--json with -o yaml contradicts', flags: { json: true, output: 'yaml' }, spec: LIST, want: 'usage' },
    { name: '--json (ndjson) with -o json contradicts', flags: { json: true, output: 'json' }, spec: LINES, want: 'usage' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.want === 'usage') assert.throws(() => outputFormat(c.flags, c.spec), (e: unknown) => e instanceof UsageError && /give one of them/.test(e.message));
      else assert.equal(outputFormat(c.flags, c.spec), c.want);
    });
  }
});

function capture(format: OutputFormat, items: readonly unknown[]): string {
  const stdout = new PassThrough();
  const chunks: string[] = [];
  stdout.on('data', (b: Buffer) => chunks.push(b.toString()));
  emit({ stdout }, format, { value: { items }, items, human: () => `${items.length} rows\n` });
  return chunks.join('');
}

describe('emit', () => {
  const items = [{ a: 1, s: 'x: y' }, { a: 2, s: '#not a comment' }];
  test('json: one document, one line', () => assert.deepEqual(JSON.parse(capture('json', items)), { items }));
  test('yaml: the same data, read back', () => assert.deepEqual(parse(capture('yaml', items)), { items }));
  test('ndjson: one item per line', () => assert.deepEqual(capture('ndjson', items).trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), items));
  for (const human of ['table', 'text', 'markdown'] as const) test(`${human}: the human form`, () => assert.equal(capture(human, items), '2 rows\n'));
});

describe('addOutputFlags on a commander command', () => {
  async function parseWith(args: readonly string[], spec: OutputSpec): Promise<string> {
    let got: OutputFormat | undefined;
    const cmd = addOutputFlags(new Command('x').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }), spec)
      .action((flags: { output?: string; json?: boolean }) => { got = outputFormat(flags, spec); });
    try {
      await cmd.parseAsync([...args], { from: 'user' });
      return got ?? 'no action';
    } catch (e) {
      return e instanceof CommanderError ? e.code : e instanceof UsageError ? 'usage' : String(e);
    }
  }
  const cases: ReadonlyArray<{ args: readonly string[]; spec: OutputSpec; want: string }> = [
    { args: [], spec: LIST, want: 'table' },
    { args: ['-o', 'ndjson'], spec: LIST, want: 'ndjson' },
    { args: ['--output=yaml'], spec: LIST, want: 'yaml' },
    { args: ['-o', 'xml'], spec: LIST, want: 'commander.invalidArgument' },
    { args: ['-o', 'ndjson'], spec: { formats: ['text', 'json', 'yaml'] }, want: 'commander.invalidArgument' },
    { args: ['--json', '-o', 'yaml'], spec: LIST, want: 'usage' },
    { args: ['-o', 'json'], spec: { formats: ['text', 'json'], short: false }, want: 'commander.unknownOption' },
    { args: ['--output', 'json'], spec: { formats: ['text', 'json'], short: false }, want: 'json' },
  ];
  for (const c of cases) test(`${c.args.join(' ') || '(none)'} → ${c.want}`, async () => assert.equal(await parseWith(c.args, c.spec), c.want));
});

describe('threatmesh commands print every form they name', () => {
  async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [main, ...args]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  test('normalize -o yaml and -o json hold the same rows; --json stays one line per value', async () => {
    const args = ['normalize', 'evil[.]example', '192.0.2.1'];
    const [yaml, json, lines] = await Promise.all([cli([...args, '-o', 'yaml']), cli([...args, '-o', 'json']), cli([...args, '--json'])]);
    for (const r of [yaml, json, lines]) assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(json.stdout) as Array<{ value: string }>;
    assert.deepEqual(rows.map((r) => r.value), ['evil.example', '192.0.2.1']);
    assert.deepEqual(parse(yaml.stdout), rows);
    assert.deepEqual(lines.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), rows);
  });
  test('normalize --json -o yaml is a usage error (exit 2) that says what to do', async () => {
    const r = await cli(['normalize', '--json', '-o', 'yaml', 'evil.example']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give one of them.*--help/);
    assert.equal(r.stdout, '');
  });
  test('keys generate --output yaml (-o stays --out there)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-output-'));
    try {
      const r = await cli(['keys', 'generate', '-o', dir, '--output', 'yaml']);
      assert.equal(r.code, 0, r.stderr);
      const doc = parse(r.stdout) as { keyId: string; privateKeyPath: string };
      assert.match(doc.keyId, /\S/);
      assert.equal(doc.privateKeyPath, join(dir, 'private.pem'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
