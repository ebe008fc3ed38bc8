/** The subcommand table. Each command lives in its own file and registers itself here. */
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { registerControlplane } from './controlplane.ts';
import { registerNormalize } from './normalize.ts';
import { registerKeys } from './keys.ts';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command, env: CliEnv, log: Logger): void {
  void program; void env; void log;
  registerControlplane(program, env, log);
  registerNormalize(program, env, log);
  registerKeys(program, env, log);
}
