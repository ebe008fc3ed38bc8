/**
 * `threatmesh ingest`: one ingestion run.
 *
 * - Preview: `ingest --source FILE|URL (--format F [mapping options] | --preset NAME) --dry-run
 *   --output ndjson` prints one JSON line per new indicator (type, value, pattern, digest, the
 *   kept source fields, where) on stdout, progress lines and a JSON summary on stderr, and exits
 *   1 with a clear message when the input cannot be read (nothing it printed should then be used).
 * - Job: `ingest --feed NAMESPACE/NAME [--run-id ID]` reads the Feed, ingests, proposes the new
 *   indicators as ThreatIndicators, and reports: into the run's Job annotation when --run-id
 *   is given (the Feed controller copies it into Feed status), else into Feed status directly.
 *   With --dry-run it previews the Feed instead: nothing proposed, status untouched.
 */
import { readFile } from 'node:fs/promises';
import { type Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { INDICATOR_TYPES, isIndicatorType, type IndicatorType } from '../domain/indicator.ts';
import { isRfc3339DateTime } from '../domain/time.ts';
import { runIngestion, type IngestionConfig, type IngestSink } from '../feeds/ingest.ts';
import { total, type IngestedIndicator, type RunReport } from '../feeds/pipeline.ts';
import { PRESETS, findPreset, type ParserConfig } from '../feeds/presets.ts';
import { destinationPolicy } from '../feeds/destinations.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';
import { loadWarningLists, parseListFile, type NamedAllowlist } from '../feeds/warninglists.ts';
import { flatJsonBound, writeFlatJson } from '../feeds/jsonbuf.ts';

const FORMATS = ['csv', 'lines', 'json', 'jsonl', 'stix', 'misp', 'taxii'] as const;

/** Parsed options of `threatmesh ingest`. */
export interface IngestCliOptions {
  readonly source?: string;
  readonly feed?: string;
  readonly format?: (typeof FORMATS)[number];
  readonly preset?: string;
  readonly delimiter?: string;
  readonly header?: boolean;
  readonly columns?: string;
  readonly column?: string;
  readonly typeColumn?: string;
  readonly type?: IndicatorType;
  readonly comment?: string[];
  readonly jsonPath?: string;
  readonly valueField?: string;
  readonly typeField?: string;
  readonly zipMember?: string;
  readonly collection?: string;
  readonly apiRoot?: string;
  readonly addedAfter?: string;
  readonly allow?: string[];
  readonly allowlistFile?: string;
  readonly warningLists: boolean;
  readonly dryRun: boolean;
  readonly output: 'ndjson' | 'summary';
  readonly maxBytes?: number;
  readonly timeout?: number;
  readonly progressEvery: number;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly runId?: string;
  readonly partnerId?: string;
  readonly signingKey?: string;
  /** Proposals signed per batch (protocol v2); 0 signs each alone. @default 0 */
  readonly proposalBatchSize?: number;
  readonly allowInternalFeeds?: string[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function proposalBatchSize(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_VOTE_BATCH) throw new InvalidArgumentError(`expected 0 (a signature per proposal) or a number of proposals from 1 to ${MAX_VOTE_BATCH}`);
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** Commander parser of `--allow-internal-feeds`: comma-separated CIDRs, repeatable; refuses a CIDR that does not parse. */
export function cidrList(v: string, prev: string[] | undefined): string[] {
  const cidrs = v.split(',').map((c) => c.trim()).filter((c) => c !== '');
  try {
    destinationPolicy(cidrs);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...(prev ?? []), ...cidrs];
}

function rfc3339(v: string): string {
  if (!isRfc3339DateTime(v)) throw new InvalidArgumentError('expected an RFC 3339 timestamp with a zone and a real date and time, e.g. 2026-11-25T00:00:00Z');
  return v;
}

function indicatorType(v: string): IndicatorType {
  if (!isIndicatorType(v)) throw new InvalidArgumentError(`expected one of ${INDICATOR_TYPES.join(', ')}`);
  return v;
}

/** Registers `ingest` on `program`. */
export function registerIngest(program: Command, env: CliEnv, log: Logger): void {
  program.command('ingest')
    .description('ingest a feed: preview a file or URL (--source ... --dry-run), or run a Feed object (--feed NAMESPACE/NAME)')
    .option('--source <file|url>', 'feed to read: a local file (MISP: the directory with manifest.json) or an http(s) URL (TAXII: the discovery URL)')
    .option('--feed <namespace/name>', 'run the Feed object: fetch, parse, propose new indicators as ThreatIndicators, report')
    .addOption(new Option('--format <format>', 'payload format').choices(FORMATS))
    .addOption(new Option('--preset <name>', 'a ready mapping for a public feed').choices(Object.keys(PRESETS)))
    .option('--delimiter <char>', 'csv: field delimiter (\\t or tab for TSV)', ',')
    .option('--header', 'csv: the first line names the columns')
    .option('--no-header', 'csv: there is no header line')
    .option('--columns <names>', 'csv: comma-separated column names when there is no header line')
    .option('--column <name|index>', 'csv: column of the indicator value (name or zero-based index)')
    .option('--type-column <name|index>', 'csv: column holding the indicator type')
    .option('--type <type>', `fixed indicator type (${INDICATOR_TYPES.join(', ')}); default: per-record type column/field or auto-detection`, indicatorType)
    .option('--comment <prefix>', 'comment line prefix (repeatable; default # for csv, # and ; for lines)', collect)
    .option('--json-path <path>', 'json: where the items are, e.g. objects[*], data.items[*], *[*] (default [*])')
    .option('--value-field <path>', 'json/jsonl: dotted path of the value inside an item')
    .option('--type-field <path>', 'json/jsonl: dotted path of the type inside an item')
    .option('--zip-member <name>', 'zip archives: the member to read when there are several')
    .option('--collection <id|title>', 'taxii: the collection to read')
    .option('--api-root <url>', 'taxii: the API root (default: the discovery default)')
    .option('--added-after <timestamp>', 'taxii: only objects added after this time (RFC 3339, e.g. 2026-11-25T00:00:00Z)', rfc3339)
    .option('--allow <entry>', 'extra allowlist entry: IP, CIDR, domain (with subdomains) or exact value (repeatable)', collect)
    .option('--allowlist-file <file>', 'file with allowlist entries, one per line (# comments), e.g. from a ConfigMap')
    .option('--no-warning-lists', 'do not drop private ranges, public resolvers and top domains (preview only)')
    .option('--dry-run', 'preview: print what would be proposed, propose nothing', false)
    .addOption(new Option('-o, --output <kind>', 'what to print on stdout: ndjson (one indicator per line) or summary (only the summary, on stderr)').choices(['ndjson', 'summary']).default('ndjson'))
    .option('--allow-internal-feeds <cidr>', 'let feeds be fetched from these internal addresses (loopback, private, link-local are refused otherwise); comma-separated or repeated', cidrList)
    .option('--max-bytes <n>', 'largest download in bytes', positiveInt)
    .option('--timeout <seconds>', 'longest download', positiveInt)
    .option('--progress-every <n>', 'log a progress line every n entries', positiveInt, 100_000)
    .option('--kubeconfig <path>', '--feed: kubeconfig file(s), \':\'-separated (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)')
    .option('--context <name>', '--feed: kubeconfig context instead of its current-context')
    .option('--run-id <id>', '--feed: the run id (the Job name) to report to')
    .option('--partner-id <id>', '--feed: this partner id, recorded as provenance and proposal signer')
    .option('--signing-key <file>', '--feed: PEM Ed25519 private key to sign proposals')
    .option('--proposal-batch-size <n>', `--feed with --signing-key: sign proposals as Merkle batches of up to n (protocol v2, one signature per batch; 1..${MAX_VOTE_BATCH}); 0 signs each alone (protocol v1). Only once the sequencer and every partner run protocol v2`, proposalBatchSize, 0)
    .action(async (opts: IngestCliOptions) => {
      if ((opts.source === undefined) === (opts.feed === undefined)) throw usage('give exactly one of --source FILE|URL or --feed NAMESPACE/NAME');
      const allow = await allowEntries(opts);
      if (opts.feed !== undefined) {
        const { ingestFeed } = await import('./ingestfeed.ts');
        await ingestFeed(opts, opts.feed, allow, { env, log, preview: { run: previewConfig, summaryLine, usage } });
      }
      else await preview(opts, opts.source ?? '', allow, env, log);
    });
}

function usage(message: string): CommanderError {
  return new CommanderError(2, 'threatmesh.usage', message);
}

async function allowEntries(opts: IngestCliOptions): Promise<string[]> {
  const entries = [...(opts.allow ?? [])];
  if (opts.allowlistFile !== undefined) {
    try {
      entries.push(...parseListFile(await readFile(opts.allowlistFile, 'utf8')));
    } catch (err) {
      throw new Error(`cannot read --allowlist-file ${opts.allowlistFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  return entries;
}

function columnRef(v: string): string | number {
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** The parser that the preview options describe. */
export function parserFromOptions(opts: IngestCliOptions): ParserConfig {
  if (opts.preset !== undefined) {
    const p = findPreset(opts.preset);
    if (p === undefined) throw usage(`unknown preset ${opts.preset}`);
    return p.parser;
  }
  const f = opts.format;
  if (f === undefined) throw usage(`give --format (${FORMATS.join(', ')}) or --preset (${Object.keys(PRESETS).join(', ')})`);
  switch (f) {
    case 'csv': {
      if (opts.column === undefined) throw usage('csv needs --column NAME|INDEX (the column of the indicator value)');
      const delimiter = opts.delimiter === '\\t' || opts.delimiter === 'tab' ? '\t' : opts.delimiter;
      return { format: f, csv: { delimiter, header: opts.header, columns: opts.columns?.split(',').map((c) => c.trim()), comment: opts.comment, value: columnRef(opts.column), type: opts.type, typeColumn: opts.typeColumn === undefined ? undefined : columnRef(opts.typeColumn) } };
    }
    case 'lines':
      return { format: f, lines: { type: opts.type, comment: opts.comment } };
    case 'json':
      return { format: f, json: { itemsPath: opts.jsonPath, valueField: opts.valueField, typeField: opts.typeField, type: opts.type } };
    case 'jsonl':
      return { format: f, json: { valueField: opts.valueField, typeField: opts.typeField, type: opts.type } };
    default:
      return { format: f };
  }
}

function configFromOptions(opts: IngestCliOptions, source: string): IngestionConfig {
  const parser = parserFromOptions(opts);
  const isUrl = /^https?:\/\//i.test(source);
  const fetch = { zipMember: opts.zipMember, maxBytes: opts.maxBytes, timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000, allowInternal: opts.allowInternalFeeds };
  if (parser.format === 'taxii') {
    if (!isUrl || opts.collection === undefined) throw usage('taxii needs --source DISCOVERY_URL and --collection ID|TITLE');
    return { source: { kind: 'taxii', discoveryUrl: source, apiRoot: opts.apiRoot, collection: opts.collection }, parser, fetch, addedAfter: opts.addedAfter };
  }
  return { source: isUrl ? { kind: 'url', url: source } : { kind: 'file', path: source }, parser, fetch };
}

/** Bytes of NDJSON the preview gathers before one write (one write per line cost a syscall each on a file or /dev/null). */
const PRINT_BATCH_BYTES = 1 << 16;

/**
 * A sink writing NDJSON to `out` in batches, with backpressure (the preview commits nothing).
 * Lines are encoded straight into reused buffers (feeds/jsonbuf.ts), not built as strings: the
 * strings were most of the preview's allocation, and the young-generation collections they
 * caused promoted pieces of the pipeline's live batch (tens of MB more old space per million
 * lines). A buffer handed to `out` is reused only once its write has completed.
 */
function printingSink(out: NodeJS.WritableStream, print: boolean): IngestSink {
  const free: Buffer[] = [];
  let buf: Buffer = Buffer.allocUnsafeSlow(PRINT_BATCH_BYTES);
  let used = 0;
  const flush = (): Promise<void> | undefined => {
    if (used === 0) return undefined;
    const full = buf;
    const chunk = full.subarray(0, used);
    buf = free.pop() ?? Buffer.allocUnsafeSlow(PRINT_BATCH_BYTES);
    used = 0;
    return out.write(chunk, () => free.push(full)) ? undefined : new Promise<void>((r) => out.once('drain', () => r()));
  };
  const add = (ind: IngestedIndicator): Promise<void> | undefined => {
    const bound = flatJsonBound(ind);
    if (bound === undefined || bound + 1 > PRINT_BATCH_BYTES) {
      const line = JSON.stringify(ind) + '\n';
      const waited = flush();
      return waited === undefined ? writeLine(out, line) : waited.then(() => writeLine(out, line));
    }
    const waited = used + bound + 1 > PRINT_BATCH_BYTES ? flush() : undefined;
    const put = (): void => {
      used = writeFlatJson(buf, used, ind);
      buf[used++] = 0x0a;
    };
    if (waited !== undefined) return waited.then(put);
    put();
    return undefined;
  };
  return {
    add: print ? add : () => undefined,
    // A failed run's preview shows what was read before the fault, as it did line by line.
    commit: async () => { await flush(); },
    abort: async () => { await flush(); },
  };
}

function writeLine(out: NodeJS.WritableStream, line: string): Promise<void> | undefined {
  return out.write(line) ? undefined : new Promise<void>((r) => out.once('drain', () => r()));
}

function summaryLine(report: RunReport): string {
  return JSON.stringify({ summary: { ...report, rejectedTotal: total(report.rejected), skippedTotal: total(report.skipped) } }) + '\n';
}

async function preview(opts: IngestCliOptions, source: string, allow: readonly string[], env: CliEnv, log: Logger): Promise<void> {
  await previewConfig(configFromOptions(opts, source), opts, { entries: allow }, env, log.child({ source }));
}

/** Extra allowlists of a preview: CLI entries and, for a Feed, its ConfigMap allowlists. */
interface PreviewAllow {
  readonly entries: readonly string[];
  readonly lists?: readonly NamedAllowlist[];
}

async function previewConfig(cfg: IngestionConfig, opts: IngestCliOptions, allow: PreviewAllow, env: CliEnv, plog: Logger): Promise<void> {
  const warningList = opts.warningLists ? await loadWarningLists(allow.entries, allow.lists) : undefined;
  const { report } = await runIngestion(cfg, {
    warningList,
    sink: printingSink(env.stdout, opts.output === 'ndjson'),
    progressEvery: opts.progressEvery,
    onProgress: (r) => plog.info('ingest progress', { fetched: r.fetched, new: r.new, duplicate: r.duplicate, rejected: total(r.rejected) }),
  });
  env.stderr.write(summaryLine(report));
  if (report.outcome === 'failed') {
    const msg = `ingest failed (${report.error?.code ?? 'error'}): ${report.error?.message ?? 'unknown error'}; the run is rolled back: a Feed run with this input would propose nothing`;
    env.stderr.write(`threatmesh ingest: ${msg}\n`);
    throw new CommanderError(1, 'threatmesh.ingest-failed', msg);
  }
}

