/** `threatmesh demo`: one admission round on pure domain code, no cluster needed (see README). */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from '../../log.ts';
import type { CliEnv } from '../../cli/env.ts';
import { runDemoRound } from '../demo/network.ts';

const SAMPLE = new URL('../demo/sample-feed.txt', import.meta.url);

/** Registers `threatmesh demo`. */
export function registerDemo(program: Command, env: CliEnv, log: Logger): void {
  program
    .command('demo')
    .description('run one admission round on a bundled sample feed: normalize, sign, vote, decide quorum, append to the Merkle log, print JSON lines')
    .option('--source <file>', 'a file with one raw indicator per line instead of the bundled sample')
    .option('--partners <n>', 'number of voting partners', parsePartners, 3)
    .action(async (opts: { source?: string; partners: number }) => {
      const text = await readFile(opts.source ?? SAMPLE, 'utf8').catch((err: unknown) => {
        throw new Error(`cannot read ${opts.source ?? 'the bundled sample'}: ${err instanceof Error ? err.message : String(err)}; pass a readable file with --source`);
      });
      log.info('demo round starting', { partners: opts.partners, source: opts.source ?? 'bundled sample' });
      for (const ev of runDemoRound(text.split(/\r?\n/), opts.partners, new Date())) env.stdout.write(JSON.stringify(ev) + '\n');
    });
}

function parsePartners(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 26) throw new InvalidArgumentError('must be an integer from 1 to 26');
  return n;
}
