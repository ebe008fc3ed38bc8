/** The subcommand table. Each command lives in its own file and registers itself here. */
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { registerControlplane } from './controlplane.ts';
import { registerNormalize } from './normalize.ts';
import { registerOperator } from './operator.ts';
import { registerKeys } from './keys.ts';
import { registerDemo } from './demo.ts';
import { registerIngest } from './ingest.ts';
import { registerUp } from './up.ts';
import { registerVote } from './vote.ts';
import { registerSequencer } from './sequencer.ts';
import { registerSandbox } from './sandbox.ts';
import { registerReplica } from './replica.ts';
import { registerRevoke } from './revoke.ts';
import { registerServe } from './serve.ts';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command, env: CliEnv, log: Logger): void {
  registerControlplane(program, env, log);
  registerNormalize(program, env, log);
  registerOperator(program, env, log);
  registerKeys(program, env, log);
  registerDemo(program, env, log);
  registerIngest(program, env, log);
  registerUp(program, env, log);
  registerVote(program, env, log);
  registerSequencer(program, env, log);
  registerSandbox(program, env, log);
  registerReplica(program, env, log);
  registerRevoke(program, env, log);
  registerServe(program, env, log);
}
