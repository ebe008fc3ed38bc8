/**
 * `threatmesh normalize [--type TYPE] VALUE...`: shows what ThreatMesh makes of
 * indicator values — normalized value, digest, Kubernetes object name and
 * STIX pattern — or why it refuses them. Exit code 1 when any value is refused.
 */
import { type Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { INDICATOR_TYPES, detectType, isIndicatorType, normalize, type IndicatorType, type NormalizeOptions, type RejectReason } from '../domain/indicator.ts';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { stixPattern } from '../domain/stix.ts';

/** One line of `normalize` output: an accepted indicator or a refusal. */
export type NormalizeRow =
  | { readonly input: string; readonly ok: true; readonly type: IndicatorType; readonly value: string; readonly digest: string; readonly name: string; readonly pattern: string }
  | { readonly input: string; readonly ok: false; readonly reason: RejectReason | 'undetected-type'; readonly message: string };

interface NormalizeCliOptions extends OutputFlags {
  readonly type: IndicatorType | 'auto';
  readonly cidrHostBits: 'clear' | 'reject';
}

/** `--json` has always printed one object per value. */
const OUTPUT: OutputSpec = { formats: ['table', 'json', 'yaml', 'ndjson'], json: 'ndjson' };

/** Registers `normalize` on `program`. */
export function registerNormalize(program: Command, env: CliEnv, _log: Logger): void {
  addOutputFlags(program.command('normalize')
    .description('normalize indicator values and print type, value, digest, object name and STIX pattern (exit 1 if any is rejected)')
    .argument('<values...>', 'indicator values (defanged forms such as example[.]com and hxxp:// are accepted)')
    .option('-t, --type <type>', `indicator type: ${INDICATOR_TYPES.join(', ')}, or auto to detect per value`, parseType, 'auto')
    .addOption(new Option('--cidr-host-bits <mode>', 'CIDR with bits set after the prefix: clear them or reject the value').choices(['clear', 'reject']).default('clear'))
    , OUTPUT)
    .action((values: string[], opts: NormalizeCliOptions) => {
      const format = outputFormat(opts, OUTPUT);
      const rows = normalizeRows(values, opts.type, { cidrHostBits: opts.cidrHostBits });
      emit(env, format, { value: rows, items: rows, human: () => rows.map(formatRow).join('') });
      const rejected = rows.filter((r) => !r.ok).length;
      if (rejected === 0) return;
      const summary = `normalize: ${rejected} of ${rows.length} values rejected`;
      env.stderr.write(`${summary}\n`);
      // A CommanderError sets the exit code in main.ts without printing usage: the input was read fine, the values were not.
      throw new CommanderError(1, 'threatmesh.rejected', summary);
    });
}

function parseType(value: string): IndicatorType | 'auto' {
  if (value === 'auto' || isIndicatorType(value)) return value;
  throw new InvalidArgumentError(`expected one of ${INDICATOR_TYPES.join(', ')} or auto`);
}

/** Normalizes each value as `type` (or its detected type for 'auto') and describes the result. */
export function normalizeRows(values: readonly string[], type: IndicatorType | 'auto', options: NormalizeOptions): NormalizeRow[] {
  return values.map((input) => describeValue(input, type, options));
}

function describeValue(input: string, type: IndicatorType | 'auto', options: NormalizeOptions): NormalizeRow {
  const t = type === 'auto' ? detectType(input) : type;
  if (t === undefined) {
    return { input, ok: false, reason: 'undetected-type', message: `cannot tell what kind of indicator "${input}" is; pass --type (${INDICATOR_TYPES.join(', ')})` };
  }
  const r = normalize(t, input, options);
  if (!r.ok) return { input, ok: false, reason: r.rejection.reason, message: r.rejection.message };
  const ind = r.indicator;
  return { input, ok: true, type: ind.type, value: ind.value, digest: indicatorDigest(ind), name: indicatorObjectName(ind), pattern: stixPattern(ind) };
}

function formatRow(row: NormalizeRow): string {
  if (!row.ok) return `rejected ${row.input}\n  reason   ${row.reason}\n  message  ${row.message}\n`;
  return `${row.type} ${row.value}\n  digest   ${row.digest}\n  name     ${row.name}\n  pattern  ${row.pattern}\n`;
}
