/**
 * The subcommand table. Each command lives in its own file and registers itself here. The local
 * development commands live in dev/ and are loaded only when one of them runs: product code
 * never imports dev/ statically (lint enforces it), and the operator image need not run them.
 */
import { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { configureErrors } from './errors.ts';
import { registerNormalize } from './normalize.ts';
import { registerOperator } from './operator.ts';
import { registerKeys } from './keys.ts';
import { registerIngest } from './ingest.ts';
import { registerVote } from './vote.ts';
import { registerSequencer } from './sequencer.ts';
import { registerReplica } from './replica.ts';
import { registerRevoke } from './revoke.ts';
import { registerGitops } from './gitops.ts';
import { registerEnforce } from './enforce.ts';
import { registerScan } from './scan.ts';
import { registerReport } from './report.ts';
import { registerServe } from './serve.ts';
import { registerEdge } from './edge.ts';
import { registerReplicaApi } from './replicaapi.ts';
import { registerStatus } from './status.ts';
import { registerCompletion } from './completion.ts';

/** What every command file exports: adds its command (and subcommands) to `program`. */
export type Register = (program: Command, env: CliEnv, log: Logger) => void;

/** A command of dev/: listed in `threatmesh --help` with `summary`; its module is imported when it runs. */
interface DevCommand {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Register>;
}

const DEV_COMMANDS: readonly DevCommand[] = [
  { name: 'controlplane', summary: '(dev) build, start and stop local kube-apiserver (+etcd) and FerretDB instances', load: async () => (await import('../dev/commands/controlplane.ts')).registerControlplane },
  { name: 'demo', summary: '(dev) one admission round on pure domain code, as JSON lines', load: async () => (await import('../dev/commands/demo.ts')).registerDemo },
  { name: 'up', summary: '(dev) single-cluster sandbox: control plane, database, CRDs, samples and the operator in-process', load: async () => (await import('../dev/commands/up.ts')).registerUp },
  { name: 'sandbox', summary: '(dev) the whole network on this machine: a sequencer and N partner clusters', load: async () => (await import('../dev/commands/sandbox.ts')).registerSandbox },
];

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command, env: CliEnv, log: Logger): void {
  const product: readonly Register[] = [registerNormalize, registerOperator, registerKeys, registerIngest, registerVote, registerSequencer, registerReplica, registerRevoke, registerGitops, registerEnforce, registerScan, registerReport, registerServe, registerEdge, registerReplicaApi, registerStatus];
  for (const register of product) register(program, env, log);
  for (const dev of DEV_COMMANDS) registerDev(program, env, log, dev);
  registerCompletion(program, env, () => loadDevCommands(env, log));
}

/** The dev commands as they really are (for completion and tests): each loaded into a program of its own. */
export async function loadDevCommands(env: CliEnv, log: Logger): Promise<Command[]> {
  return Promise.all(DEV_COMMANDS.map(async (dev) => {
    const sub = new Command('threatmesh');
    (await dev.load())(sub, env, log);
    const cmd = sub.commands.find((c) => c.name() === dev.name);
    if (cmd === undefined) throw new Error(`dev command ${dev.name} did not register itself`);
    return cmd;
  }));
}

// A placeholder that hands every argument (--help included) to the real command once its module is loaded.
function registerDev(program: Command, env: CliEnv, log: Logger, dev: DevCommand): void {
  program.command(dev.name)
    .summary(dev.summary)
    .description(`${dev.summary}; see threatmesh ${dev.name} --help`)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      const sub = new Command('threatmesh').exitOverride();
      (await dev.load())(sub, env, log);
      configureErrors(sub, env.stderr);
      await sub.parseAsync([dev.name, ...cmd.args], { from: 'user' });
    });
}
