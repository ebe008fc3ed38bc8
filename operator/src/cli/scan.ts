/**
 * `threatmesh scan`: matches logs against indicators.
 *
 * - Local: `scan --indicators FILE --log FILE|DIR|URL|s3://BUCKET/KEY --format F --output
 *   ndjson` prints one JSON line per indicator seen, `{type, value, digest, count, firstSeen,
 *   lastSeen}` (the listed indicator's own type, value and digest; `count` records that
 *   matched; RFC 3339 times from the records' own timestamps), and a JSON summary on stderr:
 *   lines read, lines rejected by reason (with samples), matches, lines/s. An input that cannot
 *   be read (a truncated gzip names its byte offset) exits 1 and prints no sightings.
 * - Worker: `scan --logscan NAMESPACE/NAME --shard N` runs shard N of a LogScan (what its
 *   Indexed Job's pods run), writing the shard's sightings and checkpoint to MongoDB.
 */
import { readFile } from 'node:fs/promises';
import { type Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { ScanError } from '../match/errors.ts';
import { LOG_FORMATS, type LogFormat } from '../match/formats/index.ts';
import { loadIndicatorFile } from '../match/indicatorfile.ts';
import type { S3Config } from '../match/s3.ts';
import { scanInput } from '../match/scan.ts';
import { expand, type LogLocation } from '../match/source.ts';
import { ScanStats } from '../match/stats.ts';
import { Tally } from '../match/tally.ts';
import { runShardWorker } from '../match/worker.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { cidrList } from './ingest.ts';
import { clusterConfig } from './flags.ts';
import { mongoClient } from '../store/connect.ts';

/** Parsed options of `threatmesh scan`. */
export interface ScanCliOptions {
  readonly indicators?: string;
  readonly log?: string[];
  readonly format?: LogFormat;
  readonly output: 'ndjson' | 'summary';
  readonly s3Endpoint?: string;
  readonly s3Region?: string;
  readonly s3Credentials?: string;
  readonly logscan?: string;
  readonly shard?: number;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly mongodbUri?: string;
  readonly database: string;
  readonly progressEvery: number;
  readonly allowInternal?: string[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function shardIndex(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a shard index (0, 1, 2 ...)');
  return n;
}

function usage(message: string): CommanderError {
  return new CommanderError(2, 'threatmesh.usage', message);
}

/** Registers `scan` on `program`. */
export function registerScan(program: Command, env: CliEnv, log: Logger): void {
  program.command('scan')
    .description('match logs against indicators: a local file/URL/S3 object (--indicators ... --log ...), or one shard of a LogScan (--logscan NAMESPACE/NAME --shard N)')
    .option('--indicators <file>', "NDJSON indicators, as 'threatmesh ingest --dry-run --output ndjson' prints them")
    .option('--log <file|dir|url|s3://bucket/key>', 'log to scan: a file, a directory of files, - for standard input (or a pipe or FIFO, read as a stream), an http(s) URL, or s3://BUCKET/KEY (s3://BUCKET/PREFIX/ for every object under it); repeatable; gzip and zstd are detected', collect)
    .addOption(new Option('--format <format>', 'log format').choices(LOG_FORMATS))
    .addOption(new Option('-o, --output <kind>', 'what to print on stdout: ndjson (one indicator seen per line) or summary (only the summary, on stderr)').choices(['ndjson', 'summary']).default('ndjson'))
    .option('--s3-endpoint <url>', 's3:// logs: the object store, e.g. https://rgw.example.org')
    .option('--s3-region <region>', 's3:// logs: signing region', 'us-east-1')
    .option('--s3-credentials <file>', 's3:// logs: JSON file {"accessKeyId","secretAccessKey"[,"sessionToken"]}')
    .option('--allow-internal <cidr>', 'http(s) logs: let the scan fetch from these internal addresses (loopback, private, link-local are refused otherwise, as for feeds); comma-separated or repeated', cidrList)
    .option('--progress-every <seconds>', 'log a progress line every n seconds', (v) => Number(v), 10)
    .option('--logscan <namespace/name>', 'worker mode: the LogScan whose shard to run')
    .option('--shard <n>', 'worker mode: the shard index (an Indexed Job passes its completion index)', shardIndex)
    .option('--kubeconfig <path>', 'worker mode: kubeconfig file(s), \':\'-separated (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)')
    .option('--context <name>', 'worker mode: kubeconfig context instead of its current-context')
    .option('--mongodb-uri <uri>', 'worker mode: the partner MongoDB (default: $MONGODB_URI)')
    .option('--database <name>', 'worker mode: the partner database with the replicated indicators', PARTNER_DEFAULTS.database)
    .action(async (opts: ScanCliOptions) => {
      if (opts.logscan !== undefined) {
        if (opts.shard === undefined) throw usage('--logscan needs --shard N');
        await worker(opts, opts.logscan, opts.shard, env, log);
        return;
      }
      await scanLocal(opts, env, log);
    });
}

async function worker(opts: ScanCliOptions, ref: string, shard: number, env: CliEnv, log: Logger): Promise<void> {
  const uri = opts.mongodbUri ?? env.mongodbUri;
  if (uri === undefined) throw usage('--logscan needs --mongodb-uri (or $MONGODB_URI): the partner database with the replicated indicators');
  const kube = new KubeHttpClient(await clusterConfig(opts, env), { userAgent: 'threatmesh-scan' });
  // A database that stops answering fails the shard (the Job retries it) instead of hanging it.
  const mongo = mongoClient(uri, { socketTimeoutMS: 120_000, serverSelectionTimeoutMS: 30_000 });
  try {
    await runShardWorker({ kube, db: mongo.db(opts.database), log }, ref, shard).catch(fail(env));
  } finally {
    kube.close();
    await mongo.close();
  }
}

async function s3Config(opts: ScanCliOptions): Promise<S3Config> {
  if (opts.s3Endpoint === undefined || opts.s3Credentials === undefined) throw usage('s3:// logs need --s3-endpoint URL and --s3-credentials FILE');
  let creds: Record<string, unknown>;
  try {
    creds = JSON.parse(await readFile(opts.s3Credentials, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw usage(`cannot read --s3-credentials ${opts.s3Credentials}: ${(err as Error).message}`);
  }
  if (typeof creds['accessKeyId'] !== 'string' || typeof creds['secretAccessKey'] !== 'string') throw usage(`--s3-credentials ${opts.s3Credentials} must hold {"accessKeyId": "...", "secretAccessKey": "..."}`);
  return { endpoint: opts.s3Endpoint, region: opts.s3Region, accessKeyId: creds['accessKeyId'], secretAccessKey: creds['secretAccessKey'], sessionToken: typeof creds['sessionToken'] === 'string' ? creds['sessionToken'] : undefined };
}

/** The inputs a --log value names. */
async function inputsOf(arg: string, opts: ScanCliOptions): Promise<Array<{ loc: LogLocation }>> {
  if (/^https?:\/\//i.test(arg)) return [{ loc: { kind: 'http', url: arg, allowInternal: opts.allowInternal } }];
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(arg);
  if (m !== null) {
    const s3 = await s3Config(opts);
    const key = m[2] ?? '';
    const loc: LogLocation = { kind: 's3', s3, bucket: m[1] ?? '', key };
    return key === '' || key.endsWith('/') ? expand(loc, key) : [{ loc }];
  }
  return expand({ kind: 'file', path: arg });
}

async function scanLocal(opts: ScanCliOptions, env: CliEnv, log: Logger): Promise<void> {
  if (opts.indicators === undefined || opts.log === undefined || opts.format === undefined) throw usage('give --indicators FILE, --log FILE|URL|s3://... and --format (or --logscan NAMESPACE/NAME --shard N)');
  const format = opts.format;
  const started = performance.now();
  const ind = await loadIndicatorFile(opts.indicators).catch(fail(env));
  const tally = new Tally();
  const stats = new ScanStats();
  let last = started;
  const inputs = (await Promise.all(opts.log.map((l) => inputsOf(l, opts)))).flat();
  for (const { loc } of inputs) {
    await scanInput(loc, undefined, {
      format, snapshot: () => ind.snapshot, tally, stats,
      onProgress: (p) => {
        const now = performance.now();
        if (now - last < opts.progressEvery * 1000) return;
        last = now;
        log.info('scan progress', { lines: stats.lines, bytes: stats.bytes, matchedRecords: p.matchedRecords });
      },
    }).catch(fail(env, stats));
  }
  const seconds = (performance.now() - started) / 1000;
  if (opts.output === 'ndjson') {
    for (const e of tally.entries()) {
      const line = JSON.stringify({ type: e.type, value: e.value, digest: e.digest, count: e.count, firstSeen: new Date(e.firstSeen).toISOString(), lastSeen: new Date(e.lastSeen).toISOString() }) + '\n';
      if (!env.stdout.write(line)) await new Promise<void>((r) => env.stdout.once('drain', () => r()));
    }
  }
  env.stderr.write(summary(stats, tally, seconds, { loaded: ind.loaded, refused: ind.refused }) + '\n');
}

function summary(stats: ScanStats, tally: Tally, seconds: number, indicators: Record<string, unknown>, error?: ScanError): string {
  return JSON.stringify({
    summary: {
      outcome: error === undefined ? 'succeeded' : 'failed', ...(error !== undefined ? { error: { code: error.code, message: error.message } } : {}),
      lines: stats.lines, bytes: stats.bytes, rejected: stats.rejected, rejectedTotal: stats.rejectedTotal, samples: stats.samples,
      matches: tally.matchedRecords, indicatorsSeen: tally.entries().length,
      linesPerSecond: Math.round(stats.lines / Math.max(seconds, 1e-6)), durationMs: Math.round(seconds * 1000), indicators,
    },
  });
}

function fail(env: CliEnv, stats?: ScanStats): (err: unknown) => never {
  return (err: unknown) => {
    if (!(err instanceof ScanError)) throw err;
    if (stats !== undefined) env.stderr.write(summary(stats, new Tally(), 1, {}, err) + '\n');
    env.stderr.write(`threatmesh scan: ${err.message}\n`);
    throw new CommanderError(1, `threatmesh.scan-${err.code}`, err.message);
  };
}
