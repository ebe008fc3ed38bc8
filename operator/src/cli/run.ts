/**
 * The root of the `threatmesh` program and how a command line runs in it (errors, exit codes:
 * see program.ts), without the command tree: `buildProgram` (program.ts) adds every command;
 * the composition root may add just the one a process runs (`singleCommandProgram`), so a
 * process such as the ingest Job loads only that command's modules.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import type { Register } from './commands.ts';
import { COMMANDER_USAGE, EXIT, UsageError, configureErrors, printable } from './errors.ts';

export { EXIT, UsageError, printable };

/** The root command without subcommands: name, version, global options, help text. */
export function rootProgram(): Command {
  return new Command('threatmesh')
    .description('ThreatMesh: quorum-signed threat-intelligence sharing for Kubernetes')
    .version('0.1.0')
    .exitOverride()
    .addOption(new Option('--exit-on-stdin-eof', 'stop gracefully (as on SIGTERM) when standard input closes: a parent process that dies takes this one with it').hideHelp())
    .addHelpText('after', '\nExit codes: 0 done, 1 failed, 2 wrong command line, 3 replica halted, 130 interrupted, 141 output closed (docs/cli.md).\nShell completion: threatmesh completion bash|zsh.')
    .hook('preAction', (root) => {
      if (root.opts<{ exitOnStdinEof?: boolean }>().exitOnStdinEof !== true) return;
      // unref: a command that finishes on its own must not wait for its stdin to close.
      (process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM')).resume() as unknown as { unref?: () => void }).unref?.();
    });
}

/** The root with only the command `register` adds (for a process that runs just that command). */
export function singleCommandProgram(env: CliEnv, log: Logger, register: Register): Command {
  const program = rootProgram();
  register(program, env, log);
  configureErrors(program, env.stderr);
  return program;
}

/** The full name of the (sub)command `argv` runs, e.g. `threatmesh vote list`. */
function commandOf(program: Command, argv: readonly string[]): string {
  let cmd = program;
  const names = ['threatmesh'];
  for (const a of argv) {
    const sub = cmd.commands.find((c) => c.name() === a);
    if (sub === undefined) continue;
    cmd = sub;
    names.push(a);
  }
  return names.join(' ');
}

/**
 * Runs `argv` (user arguments, without node and the script) and returns the exit code to use:
 * undefined when the command finished without an error (it may have set process.exitCode).
 */
export async function runCli(program: Command, argv: readonly string[], stderr: CliEnv['stderr']): Promise<number | undefined> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      if (COMMANDER_USAGE.has(err.code)) return EXIT.usage;
      // A command's usage error is shown here; its other CommanderErrors only carry the exit code of what it already reported.
      if (err.code === 'threatmesh.usage') stderr.write(`threatmesh: ${printable(err.message)}${hint(program, argv)}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    const usage = err instanceof UsageError;
    stderr.write(`threatmesh: ${printable(message)}${usage ? hint(program, argv) : ''}\n`);
    return usage ? EXIT.usage : EXIT.failed;
  }
}

function hint(program: Command, argv: readonly string[]): string {
  return ` (run '${commandOf(program, argv)} --help' for every flag and examples)`;
}
