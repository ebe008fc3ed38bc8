/**
 * One ingestion run, end to end: open the source (local file, HTTP(S) URL, MISP feed or TAXII
 * collection), parse it with the configured parser, and drain it through the pipeline into a
 * transactional sink. This is what `threatmesh ingest` and the Feed controller's in-process
 * executor call.
 *
 * Fault policy (rolled back, not kept): a fatal fault (FeedError: truncated download, invalid
 * JSON mid-document, HTML instead of data, size or time limit, looping TAXII server ...) makes
 * the run `failed`; the sink's `abort` is called and nothing is proposed, because a partial feed
 * would make de-duplication and expiry wrong. Records already handed to `sink.add` are only
 * provisional until `commit`. Per-entry problems are counted rejections and do not fail the run.
 */
import { join } from 'node:path';
import { parseDelimited } from './delimited.ts';
import { fetchUrl, openFile, type FetchOptions } from './fetch.ts';
import { parseJson, parseJsonLines } from './json.ts';
import { parseLines } from './lines.ts';
import { parseMispFeed, type MispOpener } from './misp.ts';
import { emptyReport, errorInfo, runPipeline, type IndicatorSink, type PipelineOptions, type RunReport } from './pipeline.ts';
import type { ParserConfig } from './presets.ts';
import { parseStixBundle } from './stix.ts';
import { resolveApiRoot, resolveCollection, taxiiObjects } from './taxii.ts';
import { FeedError, type ByteSource, type ParseBatch } from './types.ts';

/** Where the feed comes from. */
export type IngestSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'taxii'; readonly discoveryUrl: string; readonly apiRoot?: string | undefined; readonly collection: string };

/** Everything that describes one run. */
export interface IngestionConfig {
  readonly source: IngestSource;
  readonly parser: ParserConfig;
  /** Credentials, validators (etag/lastModified), limits, retries. */
  readonly fetch?: FetchOptions | undefined;
  /** TAXII: only objects added after this time (the cursor of the previous run). */
  readonly addedAfter?: string | undefined;
  readonly taxiiPageLimit?: number | undefined;
  readonly taxiiMaxPages?: number | undefined;
}

/** A transactional destination of new indicators. */
export interface IngestSink {
  readonly add: IndicatorSink;
  /** The run succeeded: make the added indicators effective. */
  commit(report: RunReport): Promise<void>;
  /** The run failed: discard everything added. */
  abort(report: RunReport): Promise<void>;
}

/** Injected collaborators of a run. */
export interface IngestionDeps extends Omit<PipelineOptions, 'sink'> {
  readonly sink: IngestSink;
}

/** The outcome of a run plus what the next run needs (validators, TAXII cursor). */
export interface IngestionResult {
  readonly report: RunReport;
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
  /** TAXII X-TAXII-Date-Added-Last of the last page: pass as addedAfter next time. */
  readonly cursor?: string | undefined;
}

/** Parses one payload with a single-document parser. */
export function parsePayload(parser: ParserConfig, body: ByteSource): AsyncIterable<ParseBatch> {
  switch (parser.format) {
    case 'csv':
      return parseDelimited(body, parser.csv);
    case 'lines':
      return parseLines(body, parser.lines);
    case 'json':
      return parseJson(body, parser.json);
    case 'jsonl':
      return parseJsonLines(body, parser.json);
    case 'stix':
      return parseStixBundle(body);
    case 'misp':
    case 'taxii':
      throw new FeedError('bad-config', `format ${parser.format} reads several documents; use runIngestion`);
  }
}

interface Opened {
  readonly batches: AsyncIterable<ParseBatch>;
  readonly bytes: () => number;
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
  readonly cursor: () => string | undefined;
}

type OpenOutcome = { readonly notModified: true; readonly etag?: string | undefined; readonly lastModified?: string | undefined } | ({ readonly notModified: false } & Opened);

async function openSource(cfg: IngestionConfig): Promise<OpenOutcome> {
  const f = cfg.fetch ?? {};
  const src = cfg.source;
  if (cfg.parser.format === 'taxii') {
    if (src.kind !== 'taxii') throw new FeedError('bad-config', 'format taxii needs a TAXII source (discovery URL and collection)');
    return openTaxii(src, cfg);
  }
  if (src.kind === 'taxii') throw new FeedError('bad-config', 'a TAXII source needs format taxii');
  if (cfg.parser.format === 'misp') return openMisp(src, f);
  if (src.kind === 'file') {
    const file = await openFile(src.path, f);
    return { notModified: false, batches: parsePayload(cfg.parser, file.body), bytes: () => file.bytes, cursor: () => undefined };
  }
  const res = await fetchUrl(src.url, f);
  if (res.status === 'not-modified') return { notModified: true, etag: res.etag, lastModified: res.lastModified };
  return { notModified: false, batches: parsePayload(cfg.parser, res.body), bytes: res.bytesReceived, etag: res.etag, lastModified: res.lastModified, cursor: () => undefined };
}

function openMisp(src: { kind: 'file'; path: string } | { kind: 'url'; url: string }, f: FetchOptions): OpenOutcome {
  let bytes = 0;
  const { etag: _e, lastModified: _l, ...plain } = f;
  const opener: MispOpener = src.kind === 'file'
    ? async (name) => {
      const dir = src.path.endsWith('manifest.json') ? src.path.slice(0, -'manifest.json'.length) : src.path;
      const file = await openFile(join(dir, name), f);
      bytes += file.bytes;
      return file.body;
    }
    : async (name) => {
      const base = src.url.endsWith('manifest.json') ? src.url : src.url.endsWith('/') ? src.url : `${src.url}/`;
      const res = await fetchUrl(new URL(name, base).toString(), { ...plain, credentialOrigin: new URL(base).origin });
      if (res.status !== 'ok') throw new FeedError('http-status', `unexpected 304 for ${name}`);
      const counted = res.bytesReceived;
      return (async function* (): AsyncGenerator<Buffer> {
        let last = 0;
        for await (const c of res.body) {
          bytes += counted() - last;
          last = counted();
          yield c;
        }
      })();
    };
  return { notModified: false, batches: parseMispFeed(opener), bytes: () => bytes, cursor: () => undefined };
}

async function openTaxii(src: { discoveryUrl: string; apiRoot?: string | undefined; collection: string }, cfg: IngestionConfig): Promise<OpenOutcome> {
  const { etag: _e, lastModified: _l, headers: _h, unpack: _u, ...fetchOpts } = cfg.fetch ?? {};
  // Credentials belong to the server the Feed names, never to hosts its discovery document names.
  const discovery = URL.parse(src.discoveryUrl);
  if (discovery === null) throw new FeedError('bad-config', `TAXII discovery URL ${JSON.stringify(src.discoveryUrl)} is not an absolute URL; write it like https://taxii.example.org/taxii2/`);
  const topts = { fetch: { ...fetchOpts, credentialOrigin: discovery.origin } };
  const root = await resolveApiRoot(src.discoveryUrl, src.apiRoot, topts);
  const col = await resolveCollection(root, src.collection, topts);
  let cursor: string | undefined;
  const batches = taxiiObjects(root, col.id, { ...topts, addedAfter: cfg.addedAfter, limit: cfg.taxiiPageLimit, maxPages: cfg.taxiiMaxPages, onCursor: (c) => { cursor = c; } });
  return { notModified: false, batches, bytes: () => 0, cursor: () => cursor };
}

/**
 * Runs one ingestion. Never throws for feed faults (they are in the report, outcome `failed`,
 * and the sink is aborted); throws only when the sink itself fails.
 */
export async function runIngestion(cfg: IngestionConfig, deps: IngestionDeps): Promise<IngestionResult> {
  const clock = deps.clock ?? (() => performance.now());
  const start = clock();
  let opened: OpenOutcome;
  try {
    opened = await openSource(cfg);
  } catch (err) {
    const report = { ...emptyReport(), outcome: 'failed' as const, error: errorInfo(err), durationMs: Math.round(clock() - start) };
    await deps.sink.abort(report);
    return { report };
  }
  if (opened.notModified) {
    const report = { ...emptyReport(), outcome: 'not-modified' as const, durationMs: Math.round(clock() - start) };
    await deps.sink.commit(report);
    return { report, etag: opened.etag, lastModified: opened.lastModified };
  }
  const report = await runPipeline(opened.batches, { ...deps, sink: deps.sink.add });
  report.bytes = opened.bytes();
  report.durationMs = Math.round(clock() - start);
  if (report.outcome === 'failed') {
    await deps.sink.abort(report);
    return { report };
  }
  await deps.sink.commit(report);
  return { report, etag: opened.etag, lastModified: opened.lastModified, cursor: opened.cursor() };
}
