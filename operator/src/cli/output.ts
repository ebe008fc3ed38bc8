/**
 * Output flags as kubectl users expect them: `-o, --output FORMAT` names the forms a command can
 * print (`table` or `text` for people, `json`, `yaml`, and `ndjson` — one JSON value per line —
 * for commands that print lists), and `--json` stays where it was, as the form it always printed.
 * Every command that prints data goes through {@link emit}, so the forms look alike everywhere.
 */
import { Option, type Command } from 'commander';
import { stringify } from 'yaml';
import { UsageError } from './errors.ts';
import type { CliEnv } from './env.ts';

/** The forms a command can print; `table`/`text`/`markdown` are the human one. */
export type OutputFormat = 'table' | 'text' | 'markdown' | 'json' | 'yaml' | 'ndjson';

/** What {@link addOutputFlags} adds to a command's parsed flags. */
export interface OutputFlags {
  readonly output?: string;
  readonly json?: boolean;
}

/** How a command's `--json` maps onto -o (what it printed before -o existed). */
export interface OutputSpec {
  /** The forms, the human one first (the default). */
  readonly formats: readonly OutputFormat[];
  /** The form `--json` means. @default 'json' */
  readonly json?: OutputFormat;
  /** Whether `-o` is the short form (false where `-o` already meant something else, as `keys generate -o DIR`). @default true */
  readonly short?: boolean;
}

/** Adds `-o, --output FORMAT` and `--json` to `cmd`; a contradiction between them stops the command before it does anything. */
export function addOutputFlags(cmd: Command, spec: OutputSpec): Command {
  const human = spec.formats[0] ?? 'text';
  return cmd
    .addOption(new Option(`${spec.short === false ? '' : '-o, '}--output <format>`, `output form: ${spec.formats.join(', ')}`).choices(spec.formats).default(human))
    .option('--json', `the same as -o ${spec.json ?? 'json'}`)
    .hook('preAction', (_root, action) => void outputFormat(action.opts<OutputFlags>(), spec));
}

/** The form the flags ask for; `--json` with another -o is a usage error. */
export function outputFormat(flags: OutputFlags, spec: OutputSpec): OutputFormat {
  const human = spec.formats[0] ?? 'text';
  const asked = (flags.output ?? human) as OutputFormat;
  if (flags.json !== true) return asked;
  const json = spec.json ?? 'json';
  if (asked !== human && asked !== json) throw new UsageError(`--json and -o ${asked} ask for two output forms; give one of them`);
  return json;
}

/** What a command prints: its data, and how people read it. */
export interface Printable {
  /** The data for json, yaml and ndjson. */
  readonly value: unknown;
  /** The human form (table, text or markdown), with its trailing newline. */
  readonly human: () => string;
  /** For ndjson: the items, one per line. @default [value] */
  readonly items?: readonly unknown[];
}

/** Writes `p` to stdout in `format`. */
export function emit(env: Pick<CliEnv, 'stdout'>, format: OutputFormat, p: Printable): void {
  switch (format) {
    case 'json':
      env.stdout.write(`${JSON.stringify(p.value)}\n`);
      return;
    case 'yaml':
      env.stdout.write(stringify(p.value, { lineWidth: 0 }));
      return;
    case 'ndjson':
      for (const item of p.items ?? [p.value]) env.stdout.write(`${JSON.stringify(item)}\n`);
      return;
    default:
      env.stdout.write(p.human());
  }
}
