/**
 * Composition root: the only place that reads process.env and process.argv,
 * builds the CLI and wires concrete adapters into commands.
 */
import { Command, CommanderError, Option } from 'commander';
import { createLogger, type Level } from './log.ts';
import type { CliEnv } from './cli/env.ts';
import { registerCommands } from './cli/commands.ts';

const env: CliEnv = {
  kubeconfig: process.env['KUBECONFIG'],
  kubernetesServiceHost: process.env['KUBERNETES_SERVICE_HOST'],
  kubernetesServicePort: process.env['KUBERNETES_SERVICE_PORT'],
  homeKubeconfig: process.env['HOME'] ? `${process.env['HOME']}/.kube/config` : undefined,
  mongodbUri: process.env['MONGODB_URI'],
  cacheDir: process.env['THREATMESH_CACHE'] ?? `${process.env['HOME'] ?? '/tmp'}/.cache/threatmesh`,
  logLevel: (process.env['LOG_LEVEL'] as Level | undefined) ?? 'info',
  stdout: process.stdout,
  stderr: process.stderr,
};
const log = createLogger(process.stderr, env.logLevel, { component: 'threatmesh' });

const program = new Command('threatmesh')
  .description('ThreatMesh: quorum-signed threat-intelligence sharing for Kubernetes')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()
  .addOption(new Option('--exit-on-stdin-eof', 'stop gracefully (as on SIGTERM) when standard input closes: a parent process that dies takes this one with it').hideHelp())
  .hook('preAction', (root) => {
    if (root.opts<{ exitOnStdinEof?: boolean }>().exitOnStdinEof !== true) return;
    // unref: a command that finishes on its own must not wait for its stdin to close.
    (process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM')).resume() as unknown as { unref?: () => void }).unref?.();
  });
registerCommands(program, env, log);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`threatmesh: ${message}\n`);
    process.exitCode = 1;
  }
}
