/**
 * Every subcommand met with wrong, missing and hostile arguments, in-process through the same
 * runCli as bin/threatmesh: each answers exit 2 with one message that names the flag or argument
 * and says what to do (the --help hint), never a stack trace, and never passes control
 * characters from the arguments to the terminal. The list of subcommands comes from the command
 * tree itself (the dev commands loaded), so a new subcommand without a case here fails the test.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { buildProgram, runCli } from './program.ts';
import { loadDevCommands } from './commands.ts';
import { completionTree } from './completion.ts';
import type { CliEnv } from './env.ts';
import { createLogger } from '../log.ts';

interface Run { readonly code: number; readonly stdout: string; readonly stderr: string }

async function cli(args: readonly string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  stderr.on('data', (b: Buffer) => { err += b.toString(); });
  // No cluster, no database, no ~/.kube/config: nothing a mistake could reach by accident.
  const env: CliEnv = { kubeconfig: undefined, mongodbUri: undefined, homeKubeconfig: '/nonexistent/.kube/config', cacheDir: '/nonexistent/cache', logLevel: 'error', stdout, stderr };
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await runCli(await buildProgram(env, createLogger(stderr, 'error')), args, stderr);
    return { code: code ?? (typeof process.exitCode === 'number' ? process.exitCode : 0), stdout: out, stderr: err };
  } finally {
    process.exitCode = before;
  }
}

const CONN = ['--sequencer', '127.0.0.1:1', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem', '--tls-ca', '/nonexistent/ca.pem'];

/** For each subcommand: a wrong or missing argument, and what the answer must say. */
const CASES: ReadonlyArray<{ readonly cmd: string; readonly args: readonly string[]; readonly says: RegExp }> = [
  { cmd: 'normalize', args: [], says: /missing required argument 'values'/ },
  { cmd: 'normalize', args: ['--type', 'ip', 'x'], says: /--type.*"ip"|'ip'/ },
  { cmd: 'operator', args: ['--metrics-bind', 'abc'], says: /--metrics-bind "abc" must be host:port, e\.g\. 127\.0\.0\.1:8080/ },
  { cmd: 'operator', args: [], says: /--executor job needs --job-image IMAGE .* or use --executor inprocess/ },
  { cmd: 'keys generate', args: ['--output', 'xml'], says: /argument 'xml' is invalid\. Allowed choices are text, json, yaml/ },
  { cmd: 'keys rotate', args: [], says: /required option '--partner-node <file>' not specified/ },
  { cmd: 'ingest', args: [], says: /give exactly one of --source FILE\|URL or --feed NAMESPACE\/NAME/ },
  { cmd: 'ingest', args: ['--source', 'x', '--max-bytes', '-1'], says: /'--max-bytes <n>' argument '-1' is invalid\. expected a positive whole number/ },
  { cmd: 'vote approve', args: ['x'], says: /required option '--partner-id <id>' not specified/ },
  { cmd: 'vote reject', args: [], says: /missing required argument|required option/ },
  { cmd: 'vote list', args: [...CONN, '--timeout', 'soon'], says: /--timeout must be a positive number of milliseconds, got "soon"/ },
  { cmd: 'sequencer', args: [], says: /--mongodb-uri is required: the MongoDB URI of the sequencer's database \(or set MONGODB_URI\)/ },
  { cmd: 'replica status', args: [], says: /give the partner's MongoDB: --mongodb-uri URI or MONGODB_URI/ },
  { cmd: 'replica status', args: ['--mongodb-uri', 'http://127.0.0.1:27017'], says: /--mongodb-uri "http:\/\/127\.0\.0\.1:27017" must start with mongodb:\/\/ or mongodb\+srv:\/\// },
  { cmd: 'status', args: ['--kubeconfig', '/nonexistent', '--mongodb-uri', 'postgres://x'], says: /--mongodb-uri "postgres:\/\/x" must start with mongodb:\/\// },
  { cmd: 'replica clear-halt', args: ['-o', 'xml'], says: /Allowed choices are text, json, yaml/ },
  { cmd: 'replica rebuild', args: ['--json', '-o', 'yaml'], says: /--json and -o yaml ask for two output forms; give one of them/ },
  { cmd: 'revoke', args: ['x'], says: /required option '--reason <text>' not specified/ },
  { cmd: 'gitops render', args: [], says: /--out DIR is required: the folder of the GitOps repository to write/ },
  { cmd: 'enforce', args: ['--poll-interval', 'often'], says: /--poll-interval: "often" is not a duration: use whole numbers with units/ },
  { cmd: 'scan', args: [], says: /give --indicators FILE, --log FILE\|URL\|s3:\/\/\.\.\. and --format/ },
  { cmd: 'scan', args: ['--format', 'exe'], says: /'--format <format>' argument 'exe' is invalid\. Allowed choices are zeek/ },
  { cmd: 'report trends', args: ['--since', 'lately'], says: /--since: "lately" is not a duration/ },
  { cmd: 'report summary', args: ['--model-url', 'http://127.0.0.1:9/v1'], says: /give both --model-url URL and --model NAME/ },
  { cmd: 'serve', args: [], says: /--partner-id is required: this partner's id/ },
  { cmd: 'edge', args: [], says: /give --id, --signing-key, --log FILE and --format/ },
  { cmd: 'replica-api', args: [], says: /--mongodb-uri is required/ },
  { cmd: 'replica-api', args: ['--metrics-bind', '8080'], says: /--metrics-bind "8080" must be host:port, e\.g\. 127\.0\.0\.1:8080/ },
  { cmd: 'status', args: ['--context', 'prod'], says: /--context prod needs a kubeconfig: pass --kubeconfig FILE or set KUBECONFIG/ },
  { cmd: 'status', args: ['-o', 'ndjson'], says: /argument 'ndjson' is invalid\. Allowed choices are text, json, yaml/ },
  { cmd: 'completion', args: ['fish'], says: /'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh/ },
  { cmd: 'completion', args: [], says: /missing required argument 'shell'/ },
  { cmd: 'controlplane build', args: ['extra'], says: /too many arguments for 'build'/ },
  { cmd: 'controlplane up', args: ['extra'], says: /too many arguments for 'up'/ },
  { cmd: 'controlplane up', args: ['--start-timeout', '0'], says: /'--start-timeout <seconds>' argument '0' is invalid\. expected a positive whole number/ },
  { cmd: 'controlplane up', args: ['--timeout', '90'], says: /--timeout is now --start-timeout SECONDS: the cap on each server's start while it makes progress \(default 900\)/ },
  { cmd: 'controlplane down', args: ['extra'], says: /too many arguments for 'down'/ },
  { cmd: 'demo', args: ['extra'], says: /too many arguments for 'demo'/ },
  { cmd: 'up', args: ['--context', 'kind-x'], says: /--context needs a kubeconfig: pass --kubeconfig FILE or set KUBECONFIG/ },
  { cmd: 'sandbox', args: ['--partners', '0'], says: /'--partners <n>' argument '0' is invalid\. expected a positive whole number/ },
  { cmd: '', args: ['statsu'], says: /unknown command 'statsu'/ },
];

function assertUsage(r: Run, what: string, says?: RegExp): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  if (says) assert.match(r.stderr, says, what);
  assert.match(r.stderr, /run 'threatmesh[\w -]*--help' for every flag and examples/, `${what}: no --help hint\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at \S+ \(|\bTypeError\b|\bReferenceError\b/, `${what}: a stack trace\n${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: printed on stdout`);
}

let leaves: string[] = [];

before(async () => {
  const sink = new PassThrough();
  const env: CliEnv = { kubeconfig: undefined, mongodbUri: undefined, cacheDir: '/nonexistent', logLevel: 'error', stdout: sink, stderr: sink };
  const log = createLogger(sink, 'error');
  const dev = new Map((await loadDevCommands(env, log)).map((c) => [c.name(), c]));
  const nodes = completionTree(await buildProgram(env, log), dev);
  // Leaves: commands that run (no subcommands of their own); `completion` offers its argument's choices instead.
  leaves = nodes.filter((n) => n.path !== '' && (n.subs.length === 0 || n.path === 'completion') && !nodes.some((m) => m.path.startsWith(`${n.path} `))).map((n) => n.path);
});

describe('every subcommand, wrong or missing arguments: exit 2 and what to do', () => {
  test('the tree was read, and every subcommand has a case here', () => {
    assert.ok(leaves.length >= 25, `only ${leaves.length} subcommands found`);
    const covered = new Set(CASES.map((c) => c.cmd));
    assert.deepEqual(leaves.filter((l) => !covered.has(l)), [], 'subcommands without a bad-arguments case');
  });
  for (const c of CASES) {
    const args = [...(c.cmd === '' ? [] : c.cmd.split(' ')), ...c.args];
    test(`threatmesh ${args.join(' ')}`, async () => assertUsage(await cli(args), args.join(' '), c.says));
  }
});

describe('every subcommand, hostile arguments', () => {
  test('an unknown flag: named, with the command\'s --help', async () => {
    // Commander checks required options and arguments first; either way the answer is a usage error that names what is wrong.
    for (const leaf of leaves) assertUsage(await cli([...leaf.split(' '), '--no-such-flag']), leaf, /unknown option '--no-such-flag'|required option '--[\w-]+ <[^>]+>' not specified|missing required argument/);
  });
  test('terminal escape sequences in a flag are shown escaped, never sent to the terminal', async () => {
    for (const leaf of leaves) {
      const r = await cli([...leaf.split(' '), '--\x1b]0;owned\x07\x1b[2J']);
      assertUsage(r, leaf);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f]/, `${leaf}: a raw control character reached stderr`);
      if (r.stderr.includes('unknown option')) assert.match(r.stderr, /\\x1b\]0;owned\\x07\\x1b\[2J/, leaf);
    }
  });
  test('escape sequences and huge values in a flag value are refused escaped', async () => {
    const cases: ReadonlyArray<readonly string[]> = [
      ['normalize', '--type', '\x1b[31mred', 'x'], ['status', '-o', '\x1b[2J'], ['report', 'trends', '--since', '\x9b2J'],
      ['enforce', '--poll-interval', 'x'.repeat(100_000)], ['vote', 'list', ...CONN, '--timeout', '1e309'],
    ];
    for (const args of cases) {
      const r = await cli(args);
      assertUsage(r, args[0] ?? '');
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/, `${args.join(' ')}: a raw control character reached stderr`);
    }
  });
});
