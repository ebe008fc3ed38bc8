/**
 * The subcommand table's on-demand loading: every product command of the full tree is loadable
 * on its own (so the composition root never falls back to the full tree for it, and never runs a
 * command the full tree does not have), and everything else (help, completion, the dev commands,
 * unknown names) builds the full tree.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { loadDevCommands, singleCommand } from './commands.ts';
import { buildProgram } from './program.ts';
import { rootProgram } from './run.ts';
import type { CliEnv } from './env.ts';
import { createLogger } from '../log.ts';

const stderr = new PassThrough();
const env: CliEnv = { kubeconfig: undefined, mongodbUri: undefined, homeKubeconfig: '/nonexistent/.kube/config', cacheDir: '/nonexistent/cache', logLevel: 'error', stdout: new PassThrough(), stderr };
const log = createLogger(stderr, 'error');

describe('singleCommand', async () => {
  const full = await buildProgram(env, log);
  const dev = new Set((await loadDevCommands(env, log)).map((c) => c.name()));
  const product = full.commands.map((c) => c.name()).filter((n) => !dev.has(n) && n !== 'completion');

  test('the full tree has product commands to check', () => assert.ok(product.length >= 16, product.join(' ')));
  for (const name of product) {
    test(`${name} loads on its own and registers exactly that command, as the full tree has it`, async () => {
      const register = await singleCommand([name, '--help']);
      assert.ok(register !== undefined, `${name} is missing from the table of commands loaded on demand`);
      const program = rootProgram();
      register(program, env, log);
      assert.deepEqual(program.commands.map((c) => c.name()), [name]);
      const alone = program.commands[0]!;
      const inFull = full.commands.find((c) => c.name() === name)!;
      assert.equal(alone.helpInformation(), inFull.helpInformation());
    });
  }
  test('a command after --exit-on-stdin-eof (as the soak and the sandbox start a sequencer) loads on its own', async () => {
    const register = await singleCommand(['--exit-on-stdin-eof', 'sequencer', '--listen', '127.0.0.1:1']);
    assert.ok(register !== undefined, 'the leading flag made it build the full tree');
    const program = rootProgram();
    register(program, env, log);
    assert.deepEqual(program.commands.map((c) => c.name()), ['sequencer']);
  });
  const others: ReadonlyArray<readonly string[]> = [[], ['--help'], ['--version'], ['completion', 'bash'], ['up'], ['sandbox'], ['controlplane'], ['demo'], ['no-such-command'], ['help', 'scan'], ['--exit-on-stdin-eof'], ['--exit-on-stdin-eof', 'up'], ['--kubeconfig', 'sequencer']];
  for (const argv of others) {
    test(`[${argv.join(' ')}] builds the full tree`, async () => assert.equal(await singleCommand(argv), undefined));
  }
});
