/**
 * The `threatmesh` program: the command tree, how errors are shown, and the exit codes
 * (documented in docs/cli.md). Built from a CliEnv by the composition root; tests build it with
 * their own streams and run any command line in-process.
 *
 * Every error ends the same way: one `threatmesh: message` line on stderr that names the flag
 * or input and says what to do, a hint naming `--help` for command-line mistakes, and no stack
 * trace. Control characters in messages (an escape sequence passed as an argument, say) are
 * shown escaped, never sent to the terminal.
 */
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { registerCommands } from './commands.ts';
import { configureErrors } from './errors.ts';
import { rootProgram } from './run.ts';

export { EXIT, UsageError, printable, runCli } from './run.ts';

/** The whole command tree over `env`. */
export async function buildProgram(env: CliEnv, log: Logger): Promise<Command> {
  const program = rootProgram();
  await registerCommands(program, env, log);
  configureErrors(program, env.stderr);
  return program;
}
