/**
 * The subcommand table. Each command lives in its own file and registers itself here, loaded on
 * demand: a process that runs one product command (the operator, the sequencer, an ingest Job,
 * `threatmesh edge` at a site) loads only that command's modules (`singleCommand`), and the full
 * tree (help, completion) loads them all. The local development commands live in dev/ and are
 * loaded only when one of them runs: product code never imports dev/ statically (lint enforces
 * it), and the operator image need not run them.
 */
import { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { configureErrors } from './errors.ts';
import { registerCompletion } from './completion.ts';

/** What every command file exports: adds its command (and subcommands) to `program`. */
export type Register = (program: Command, env: CliEnv, log: Logger) => void;

/** A product command's name and how to load the function that registers it. */
interface ProductCommand {
  readonly name: string;
  readonly load: () => Promise<Register>;
}

const PRODUCT_COMMANDS: readonly ProductCommand[] = [
  { name: 'normalize', load: async () => (await import('./normalize.ts')).registerNormalize },
  { name: 'operator', load: async () => (await import('./operator.ts')).registerOperator },
  { name: 'keys', load: async () => (await import('./keys.ts')).registerKeys },
  { name: 'ingest', load: async () => (await import('./ingest.ts')).registerIngest },
  { name: 'vote', load: async () => (await import('./vote.ts')).registerVote },
  { name: 'sequencer', load: async () => (await import('./sequencer.ts')).registerSequencer },
  { name: 'replica', load: async () => (await import('./replica.ts')).registerReplica },
  { name: 'revoke', load: async () => (await import('./revoke.ts')).registerRevoke },
  { name: 'gitops', load: async () => (await import('./gitops.ts')).registerGitops },
  { name: 'enforce', load: async () => (await import('./enforce.ts')).registerEnforce },
  { name: 'scan', load: async () => (await import('./scan.ts')).registerScan },
  { name: 'report', load: async () => (await import('./report.ts')).registerReport },
  { name: 'serve', load: async () => (await import('./serve.ts')).registerServe },
  { name: 'edge', load: async () => (await import('./edge.ts')).registerEdge },
  { name: 'replica-api', load: async () => (await import('./replicaapi.ts')).registerReplicaApi },
  { name: 'status', load: async () => (await import('./status.ts')).registerStatus },
];

// Global flags without a value that parents put before the command (rootProgram in run.ts):
// skipped to find the command's name, so a child started as `--exit-on-stdin-eof sequencer`
// loads only the sequencer's modules too (the soak and the sandbox start theirs so).
const LEADING_FLAGS: ReadonlySet<string> = new Set(['--exit-on-stdin-eof']);

/**
 * The register function of the product command named by the first argument that is not one of
 * the value-less global flags; undefined for help, completion, dev commands and unknown names.
 */
export async function singleCommand(argv: readonly string[]): Promise<Register | undefined> {
  const name = argv.find((a) => !LEADING_FLAGS.has(a));
  return PRODUCT_COMMANDS.find((c) => c.name === name)?.load();
}

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
export async function registerCommands(program: Command, env: CliEnv, log: Logger): Promise<void> {
  const product = await Promise.all(PRODUCT_COMMANDS.map((c) => c.load()));
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
