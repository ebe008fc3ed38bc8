import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import { completionTree, shellQuote } from './completion.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const run = promisify(execFile);
let dir: string;
let bashFile: string;
let zshFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-completion-'));
  bashFile = join(dir, 'threatmesh.bash');
  zshFile = join(dir, '_threatmesh');
  const [bash, zsh] = await Promise.all([run(process.execPath, [main, 'completion', 'bash']), run(process.execPath, [main, 'completion', 'zsh'])]);
  await writeFile(bashFile, bash.stdout);
  await writeFile(zshFile, zsh.stdout);
});
after(() => rm(dir, { recursive: true, force: true }));

/** The completions a real bash offers for `line` (the cursor at its end). */
async function bashComplete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const script = `source ${shellQuote(bashFile)}; COMP_WORDS=(${words.map(shellQuote).join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE=${shellQuote(line)}; COMP_POINT=${line.length}; _threatmesh; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', script]);
  return stdout.split('\n').filter((l) => l !== '');
}

/** What a real zsh's completion functions are handed for `line`: compadd/_describe/_files stubbed to print it. */
async function zshComplete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const script = [
    'compdef() { :; }', 'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }', '_files() { print -- FILES; }',
    '_describe() { local arr=${@[-1]}; print -l -- ${${(P)arr}%%:*}; }',
    `source ${shellQuote(zshFile)}`, `words=(${words.map(shellQuote).join(' ')})`, `CURRENT=${words.length}`, '_threatmesh',
  ].join('\n');
  const { stdout } = await run('zsh', ['-f', '-c', script]);
  return stdout.split('\n').filter((l) => l !== '');
}

const CASES: ReadonlyArray<{ line: string; has?: readonly string[]; exactly?: readonly string[] }> = [
  { line: 'threatmesh ', has: ['status', 'completion', 'vote', 'replica', 'up', 'sandbox', 'normalize'] },
  { line: 'threatmesh sta', exactly: ['status'] },
  { line: 'threatmesh vote ', exactly: ['approve', 'reject', 'list'] },
  { line: 'threatmesh vote list --t', exactly: ['--tls-cert', '--tls-key', '--tls-ca', '--timeout'] },
  { line: 'threatmesh normalize -o ', exactly: ['table', 'json', 'yaml', 'ndjson'] },
  { line: 'threatmesh normalize --output y', exactly: ['yaml'] },
  { line: 'threatmesh status -n tm --context prod -o ', exactly: ['text', 'json', 'yaml'] },
  { line: 'threatmesh --version replica st', exactly: ['status'] },
  { line: 'threatmesh ingest --format ', has: ['csv', 'json', 'stix'] },
  { line: 'threatmesh up --until', exactly: ['--until-ready'] },
  { line: 'threatmesh completion ', exactly: ['bash', 'zsh'] },
  { line: 'threatmesh keys generate -', has: ['--out', '-o', '--output', '--force', '--help'] },
];

describe('threatmesh completion bash, sourced in a real bash', () => {
  for (const c of CASES) {
    test(JSON.stringify(c.line), async () => {
      const got = await bashComplete(c.line);
      if (c.exactly) assert.deepEqual([...got].sort(), [...c.exactly].sort());
      for (const h of c.has ?? []) assert.ok(got.includes(h), `${h} not offered: ${got.join(' ')}`);
    });
  }
  test('a flag value without choices (a file, a name) offers nothing, so bash falls back to files', async () => {
    assert.deepEqual(await bashComplete('threatmesh replica status --mongodb-uri '), []);
    assert.deepEqual(await bashComplete('threatmesh report trends --since '), []);
  });
});

describe('threatmesh completion zsh, in a real zsh', () => {
  for (const c of CASES.filter((x) => !x.line.endsWith(' ') || x.line.endsWith('-o ') || x.line === 'threatmesh vote ')) {
    test(JSON.stringify(c.line), async () => {
      const got = await zshComplete(c.line);
      const prefix = c.line.slice(c.line.lastIndexOf(' ') + 1);
      const offered = got.filter((g) => g.startsWith(prefix));
      if (c.exactly) assert.deepEqual([...offered].sort(), [...c.exactly].sort());
      for (const h of c.has ?? []) assert.ok(offered.includes(h), `${h} not offered: ${got.join(' ')}`);
    });
  }
  test('a flag value without choices completes files', async () => assert.deepEqual(await zshComplete('threatmesh scan --log '), ['FILES']));
});

describe('completionTree', () => {
  test('hidden flags are left out; value flags, choices and argument choices are kept; placeholders are replaced', () => {
    const root = new Command('t');
    root.command('a').addOption(new Option('--secret').hideHelp()).addOption(new Option('-o, --output <f>').choices(['x', 'y'])).option('--flag');
    root.command('b').argument('<shell>').allowUnknownOption();
    const realB = new Command('b').option('--real <v>');
    const nodes = completionTree(root, new Map([['b', realB]]));
    const a = nodes.find((n) => n.path === 'a');
    assert.deepEqual(a?.flags.map((f) => [f.names.join(','), f.takesValue, f.choices.join(',')]), [['--output,-o', true, 'x,y'], ['--flag', false, ''], ['--help,-h', false, '']]);
    assert.deepEqual(nodes.find((n) => n.path === 'b')?.flags.map((f) => f.names[0]), ['--real', '--help']);
  });
  test('shellQuote survives quotes', () => assert.equal(shellQuote("it's"), `'it'\\''s'`));
});
