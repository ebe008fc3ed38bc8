/**
 * How commands end: the exit codes (docs/cli.md), the error for command-line mistakes, and the
 * way error text reaches the terminal (control characters escaped, a hint naming `--help`).
 */
import type { Command } from 'commander';
import type { CliEnv } from './env.ts';

/** The exit codes of every command. */
export const EXIT = {
  /** It did what was asked. */
  ok: 0,
  /** It ran and failed (unreachable cluster or database, unreadable or refused input…); the message says why. */
  failed: 1,
  /** The command line is wrong: an unknown flag, a missing or malformed value; the message names the flag. */
  usage: 2,
  /** `replica status`: a replica is halted (investigate, then `replica clear-halt`). */
  halted: 3,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM before it finished (`up --until-ready`, `sandbox --until-converged`). */
  interrupted: 130,
  /** Standard output was closed by its reader (`| head`): the command stopped early, quietly. */
  stdoutClosed: 141,
} as const;

/** A mistake on the command line: exit code 2 and a hint to read `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Commander's own command-line errors (help and version are not errors). */
export const COMMANDER_USAGE = new Set([
  'commander.unknownOption', 'commander.unknownCommand', 'commander.missingArgument', 'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue', 'commander.invalidArgument', 'commander.excessArguments', 'commander.conflictingOption',
]);

/** `text` with control characters other than newline and tab shown as escapes (\x1b, \u0000…). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander prints its own errors through here: escaped, then one line saying where the help is. */
export function configureErrors(cmd: Command, stderr: CliEnv['stderr']): void {
  cmd.configureOutput({ writeErr: (s) => void stderr.write(printable(s)), outputError: (s, write) => write(s) })
    .showHelpAfterError(`(run '${fullName(cmd)} --help' for every flag and examples)`);
  for (const sub of cmd.commands) configureErrors(sub, stderr);
}


/** `parse(text)`; whatever it throws becomes a UsageError that names `flag` (exit 2 and the --help hint). */
export function flagValue<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.includes(flag) ? message : `${flag}: ${message}`);
  }
}
