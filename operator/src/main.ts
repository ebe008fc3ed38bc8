/**
 * Composition root: the only place that reads process.env and process.argv, builds the CLI and
 * wires concrete adapters into commands, and owns the process's standard streams.
 */
import { createLogger, type Level } from './log.ts';
import type { CliEnv } from './cli/env.ts';
import { EXIT, runCli, singleCommandProgram } from './cli/run.ts';

const env: CliEnv = {
  kubeconfig: process.env['KUBECONFIG'],
  kubernetesServiceHost: process.env['KUBERNETES_SERVICE_HOST'],
  kubernetesServicePort: process.env['KUBERNETES_SERVICE_PORT'],
  homeKubeconfig: process.env['HOME'] ? `${process.env['HOME']}/.kube/config` : undefined,
  mongodbUri: process.env['MONGODB_URI'],
  ferretdbBackend: process.env['THREATMESH_FERRETDB_BACKEND'],
  cacheDir: process.env['THREATMESH_CACHE'] ?? `${process.env['HOME'] ?? '/tmp'}/.cache/threatmesh`,
  logLevel: (process.env['LOG_LEVEL'] as Level | undefined) ?? 'info',
  stdout: process.stdout,
  stderr: process.stderr,
};
const log = createLogger(process.stderr, env.logLevel, { component: 'threatmesh' });

// A reader that closes stdout (`threatmesh ingest … | head`) ends the command quietly: a
// long-running one stops gracefully as on SIGTERM (its children and clusters go too), any other
// exits at once. Later writes to the closed stream are dropped.
let stdoutClosed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  if (stdoutClosed) return;
  stdoutClosed = true;
  process.exitCode = EXIT.stdoutClosed;
  if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
  else process.exit(EXIT.stdoutClosed);
});
// Nothing can report a closed stderr; the command carries on with stdout.
process.stderr.on('error', () => undefined);

const argv = process.argv.slice(2);
// A process that runs one command loads only that command's modules, not every command's: the
// ingest Job saves about 50 MB resident (docs/adr/2026-12-06-million-indicators.md, ingest).
const { singleCommand } = await import('./cli/commands.ts');
const single = await singleCommand(argv);
const program = single !== undefined
  ? singleCommandProgram(env, log, single)
  : await (await import('./cli/program.ts')).buildProgram(env, log);
const code = await runCli(program, argv, process.stderr);
if (code !== undefined) process.exitCode = stdoutClosed ? EXIT.stdoutClosed : code;
