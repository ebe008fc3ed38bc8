/**
 * `threatmesh edge`: detection at a site without a cluster. It pulls the matcher set from its
 * partner's HTTPS server (`GET /sightings/v1/indicators`, mTLS client certificate or bearer
 * token, ETag), keeps it in --state, scans local logs with the same matcher as `threatmesh scan`,
 * and pushes only signed sighting reports (digests, counts, hour buckets: match/sharing.ts) to
 * `POST /sightings/v1/reports`. When the partner is unreachable it scans with its last set and
 * keeps unsent reports in --state/pending to send on the next run. One run per invocation, or
 * every --interval. Prints one JSON summary per run on stdout.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration } from '../controllers/schedule.ts';
import { SigningKey } from '../domain/signature.ts';
import type { Logger } from '../log.ts';
import { LOG_FORMATS, type LogFormat } from '../match/formats/index.ts';
import { loadIndicatorFile } from '../match/indicatorfile.ts';
import type { SightingFacts } from '../match/report.ts';
import { scanInput } from '../match/scan.ts';
import { signSightingReport, SHARING_LIMITS } from '../match/sharing.ts';
import { callPeer, endpointOf, postReport, type SightingEndpoint } from '../match/sightingclient.ts';
import { Tally } from '../match/tally.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { untilSignal } from './flags.ts';

/** Flags of `threatmesh edge`. */
export interface EdgeFlags {
  readonly server?: string;
  readonly id?: string;
  readonly signingKey?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly tokenFile?: string;
  readonly log?: string[];
  readonly format?: LogFormat;
  readonly state: string;
  readonly interval?: string;
}

type Client = SightingEndpoint;

/** One run's summary. */
export interface EdgeRun {
  readonly set: { readonly source: 'fresh' | 'unchanged' | 'cached'; readonly indicators: number; readonly error?: string };
  readonly lines: number;
  readonly indicatorsSeen: number;
  readonly sent: number;
  readonly pending: number;
}

async function readOr(path: string, fallback: string | undefined): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => fallback);
}

// The matcher set: fresh from the partner, or the last one kept in --state when it is unreachable.
async function pullSet(c: Client, state: string): Promise<EdgeRun['set'] & { path: string }> {
  const path = join(state, 'indicators.ndjson');
  const etag = await readOr(join(state, 'indicators.etag'), undefined);
  try {
    const r = await callPeer(c, 'GET', '/sightings/v1/indicators', etag !== undefined ? { 'if-none-match': etag } : {});
    if (r.status === 304) return { source: 'unchanged', indicators: 0, path };
    if (r.status !== 200) throw new Error(`the partner answered ${r.status}: ${r.body.slice(0, 300)}`);
    await writeFile(`${path}.tmp`, r.body);
    await rename(`${path}.tmp`, path);
    await writeFile(join(state, 'indicators.etag'), String(r.headers['etag'] ?? ''));
    return { source: 'fresh', indicators: 0, path };
  } catch (err) {
    if (await readOr(path, undefined) === undefined) throw new Error(`no matcher set yet and the partner is unreachable (${err instanceof Error ? err.message : String(err)}); check --server and the credentials`, { cause: err });
    return { source: 'cached', indicators: 0, error: err instanceof Error ? err.message : String(err), path };
  }
}

function factsOf(tally: Tally): SightingFacts[] {
  return tally.entries().flatMap((e) => [...e.buckets].map(([start, b]) => ({ digest: e.digest, bucketStart: new Date(start), count: b.count, firstSeen: new Date(b.firstSeen), lastSeen: new Date(b.lastSeen) })));
}

// Sends every pending report, oldest first; one that fails stays for the next run.
async function flush(c: Client, pendingDir: string, log: Logger): Promise<number> {
  let sent = 0;
  for (const name of (await readdir(pendingDir)).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(pendingDir, name);
    const r = await postReport(c, await readFile(file, 'utf8'));
    if (r.outcome === 'sent') {
      await rm(file);
      sent++;
      continue;
    }
    // A refusal is final (the report itself is wrong): keep it aside, never resend it.
    if (r.outcome === 'refused') {
      await rename(file, `${file}.refused`);
      log.error('the partner refused a sighting report; kept as .refused', { file, status: r.status, body: r.detail });
      continue;
    }
    log.warn('the partner is unreachable or busy; sighting reports stay pending', { file, status: r.status, err: r.detail });
    break;
  }
  return sent;
}

/** One edge run: pull the set, scan, sign and queue the report, send what is pending. */
export async function edgeRun(c: Client, o: { readonly id: string; readonly key: SigningKey; readonly logs: readonly string[]; readonly format: LogFormat; readonly state: string; readonly log: Logger; readonly now: () => Date }): Promise<EdgeRun> {
  const pendingDir = join(o.state, 'pending');
  await mkdir(pendingDir, { recursive: true });
  const set = await pullSet(c, o.state);
  const ind = await loadIndicatorFile(set.path);
  const tally = new Tally();
  let lines = 0;
  for (const path of o.logs) lines += (await scanInput({ kind: 'file', path }, undefined, { format: o.format, snapshot: () => ind.snapshot, tally })).stats.lines;
  const facts = factsOf(tally);
  for (let i = 0; i < facts.length; i += SHARING_LIMITS.maxSightings) {
    const signed = signSightingReport(o.id, facts.slice(i, i + SHARING_LIMITS.maxSightings), o.key, o.now());
    await writeFile(join(pendingDir, `${o.now().getTime()}-${String(i).padStart(8, '0')}.json`), JSON.stringify(signed));
  }
  const sent = await flush(c, pendingDir, o.log);
  const pending = (await readdir(pendingDir)).filter((n) => n.endsWith('.json')).length;
  return { set: { source: set.source, indicators: ind.loaded, ...(set.error !== undefined ? { error: set.error } : {}) }, lines, indicatorsSeen: tally.entries().length, sent, pending };
}

async function clientOf(f: EdgeFlags): Promise<Client> {
  if (f.server === undefined) throw new UsageError('--server is required: the partner\'s HTTPS server, e.g. https://partner-a.example:8443');
  const base = new URL(f.server);
  if (base.protocol !== 'https:') throw new UsageError('--server must be an https:// URL: the matcher set and the reports travel over TLS only');
  if ((f.cert === undefined) !== (f.key === undefined)) throw new UsageError('--cert and --key go together (the site\'s mTLS client certificate)');
  if (f.cert === undefined && f.tokenFile === undefined) throw new UsageError('give --cert and --key, or --token-file: the partner authenticates this site as a sighter consumer');
  const read = (flag: string, p: string | undefined): Promise<string | undefined> => p === undefined ? Promise.resolve(undefined) : readFile(p, 'utf8').catch((err: unknown) => { throw new Error(`${flag} ${p}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`); });
  const [ca, cert, key, token] = await Promise.all([read('--ca', f.ca), read('--cert', f.cert), read('--key', f.key), read('--token-file', f.tokenFile)]);
  return endpointOf(base, { ca, cert, key, token });
}

/** Registers `threatmesh edge`. */
export function registerEdge(program: Command, env: CliEnv, log: Logger): void {
  program.command('edge')
    .description('detect at a site without a cluster: pull the matcher set from the partner over TLS, scan local logs, push signed sightings (digests, counts, hour buckets only); works from the last set while the partner is away')
    .option('--server <url>', 'the partner\'s HTTPS server (threatmesh serve), https://HOST:PORT')
    .option('--id <name>', 'this site\'s name: its sighter consumer name in the partner\'s serve config')
    .option('--signing-key <file>', 'this site\'s Ed25519 private.pem (threatmesh keys generate); its public key is the consumer\'s sightingKey')
    .option('--ca <file>', 'CA that verifies the partner\'s server certificate (default: the system roots)')
    .option('--cert <file>', 'mTLS client certificate of this site (PEM)')
    .option('--key <file>', 'key of --cert (PEM)')
    .option('--token-file <file>', 'bearer token of this site, instead of --cert/--key')
    .option('--log <file>', 'log file to scan (repeat for several)', (v: string, acc: string[] = []) => [...acc, v])
    .addOption(new Option('--format <format>', 'log format').choices(LOG_FORMATS))
    .option('--state <dir>', 'where the last matcher set and unsent reports are kept', '.threatmesh-edge')
    .option('--interval <duration>', 'run again every DURATION until SIGTERM (default: one run)')
    .action(async (f: EdgeFlags) => {
      if (f.id === undefined || f.signingKey === undefined || f.log === undefined || f.format === undefined) throw new UsageError('give --id, --signing-key, --log FILE and --format (and --server with --cert/--key or --token-file)');
      const c = await clientOf(f);
      const key = SigningKey.fromPem(await readFile(f.signingKey, 'utf8'));
      const interval = f.interval === undefined ? undefined : parseDuration(f.interval);
      const opts = { id: f.id, key, logs: f.log.map((p) => resolve(p)), format: f.format, state: resolve(f.state), log, now: () => new Date() };
      const stop = untilSignal();
      for (;;) {
        env.stdout.write(`${JSON.stringify(await edgeRun(c, opts))}\n`);
        if (interval === undefined) return;
        if (await Promise.race([stop, new Promise<undefined>((r) => setTimeout(() => r(undefined), interval))]) !== undefined) return;
      }
    });
}
