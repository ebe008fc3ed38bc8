/**
 * Fetching feed payloads over HTTP(S) (node:http/https) and from local files.
 *
 * - Conditional GET: `etag` → If-None-Match, `lastModified` → If-Modified-Since; a 304 is the
 *   `not-modified` outcome.
 * - Time limits: `connectTimeoutMs` until the response headers arrive, `idleTimeoutMs` between
 *   body bytes, `timeoutMs` for the whole transfer (FeedError 'timeout').
 * - Size limits: `maxBytes` as transferred and `maxDecompressedBytes` after Content-Encoding and
 *   after gzip/zip, on every path (a spooled zip archive also counts against `maxBytes`).
 * - Retries with exponential backoff (and jitter) on network errors and 5xx — never on 4xx,
 *   which will not fix themselves. A failure while the body is already streaming is not retried
 *   (the parser has consumed part of it); it fails the run, and the next scheduled run retries.
 * - Credentials (basic, bearer, or a custom header) are passed in by the caller, which reads the
 *   Feed's Secret; they are dropped on a redirect to another origin.
 * - Destinations: internal addresses (loopback, private, link-local, metadata; destinations.ts)
 *   are refused for the URL and every redirect, checked on the resolved address at connect
 *   time, unless `allowInternal` lists their CIDR (FeedError 'forbidden-destination').
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { contentDecode, limitBytes, readZipFile, sniffContainer, unpack, type SizeLimits } from './decompress.ts';
import { destinationPolicy, guardedLookup, hostRefusal, type DestinationPolicy } from './destinations.ts';
import { FeedError } from './types.ts';
import { jitteredBackoff } from '../runtime/ratelimit.ts';

/** Credentials for a feed. */
export type Credentials =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'header'; readonly name: string; readonly value: string };

/** Options of `fetchUrl`. */
export interface FetchOptions {
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
  readonly credentials?: Credentials | undefined;
  /**
   * The only origin (`scheme://host:port`) `credentials` are sent to, on the first request and
   * across redirects; requests elsewhere go without them. TAXII passes the discovery URL's
   * origin, so an API root the server names on another host never receives them.
   * @default the origin of the URL being fetched
   */
  readonly credentialOrigin?: string | undefined;
  /**
   * Internal CIDRs the fetch may reach after all (an operator's `--allow-internal-feeds`);
   * every other internal address is refused (destinations.ts).
   * @default [] (no internal address)
   */
  readonly allowInternal?: readonly string[] | undefined;
  /** Extra request headers (e.g. Accept). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** @default 15000 */
  readonly connectTimeoutMs?: number;
  /** @default 60000 */
  readonly idleTimeoutMs?: number;
  /** Whole transfer. @default 600000 */
  readonly timeoutMs?: number;
  /** @default 512 MiB */
  readonly maxBytes?: number;
  /** @default 2 GiB */
  readonly maxDecompressedBytes?: number;
  readonly zipMember?: string | undefined;
  readonly tmpDir?: string | undefined;
  /** Retries after the first attempt. @default 3 */
  readonly retries?: number;
  /** First backoff delay (each wait is jittered up to twice its value); doubles each retry. @default 1000 */
  readonly backoffMs?: number;
  /** Injected for tests. @default setTimeout-based sleep */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Unpack gzip/zip payloads. @default true */
  readonly unpack?: boolean;
  /** Called before each retry. */
  readonly onRetry?: ((attempt: number, reason: string, delayMs: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A fetched payload: the body stream (decompressed) and the validators for the next conditional GET. */
export type FetchResult =
  | { readonly status: 'not-modified'; readonly etag?: string | undefined; readonly lastModified?: string | undefined }
  | {
    readonly status: 'ok';
    readonly body: AsyncIterable<Buffer>;
    readonly etag?: string | undefined;
    readonly lastModified?: string | undefined;
    readonly contentType?: string | undefined;
    /** Final URL after redirects. */
    readonly url: string;
    /** Bytes received so far (compressed). */
    readonly bytesReceived: () => number;
    /** A response header (lower-case name). */
    readonly header: (name: string) => string | undefined;
  };

const MAX_REDIRECTS = 5;

/** Default limits of a fetch. */
export const FETCH_DEFAULTS = { connectTimeoutMs: 15_000, idleTimeoutMs: 60_000, timeoutMs: 600_000, maxBytes: 512 * 1024 * 1024, maxDecompressedBytes: 2 * 1024 * 1024 * 1024, retries: 3, backoffMs: 1000 } as const;

const sleepDefault = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class RetryableError extends Error {}

/** Fetches `url` with retries; see the module doc for the policy. */
export async function fetchUrl(url: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const retries = opts.retries ?? FETCH_DEFAULTS.retries;
  const backoff = opts.backoffMs ?? FETCH_DEFAULTS.backoffMs;
  const sleep = opts.sleep ?? sleepDefault;
  const policy = destinationPolicy(opts.allowInternal ?? []);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchOnce(url, opts, policy);
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= retries) throw asFeedError(err, attempt);
      // Waits between backoff·2^attempt and twice that (the runtime's equal-jitter backoff, uncapped).
      const delay = jitteredBackoff(attempt + 1, 2 * backoff, Number.POSITIVE_INFINITY, Math.random);
      opts.onRetry?.(attempt + 1, err.message, delay);
      await sleep(delay);
    }
  }
}

function asFeedError(err: unknown, attempt: number): unknown {
  if (err instanceof RetryableError) {
    const code = /timed out/.test(err.message) ? 'timeout' : /HTTP 5/.test(err.message) ? 'http-status' : 'network';
    return new FeedError(code, `${err.message} (gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'})`);
  }
  return err;
}

function authHeaders(c: Credentials | undefined): Record<string, string> {
  if (c === undefined) return {};
  if (c.kind === 'basic') return { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
  if (c.kind === 'bearer') return { authorization: `Bearer ${c.token}` };
  return { [c.name.toLowerCase()]: c.value };
}

function requestHeaders(opts: FetchOptions, withAuth: boolean): Record<string, string> {
  const h: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br', 'user-agent': 'threatmesh-ingest/0.1', ...opts.headers };
  if (opts.etag !== undefined) h['if-none-match'] = opts.etag;
  if (opts.lastModified !== undefined) h['if-modified-since'] = opts.lastModified;
  return withAuth ? { ...h, ...authHeaders(opts.credentials) } : h;
}

async function fetchOnce(url: string, opts: FetchOptions, policy: DestinationPolicy): Promise<FetchResult> {
  const origin = opts.credentialOrigin ?? new URL(url).origin;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(current, requestHeaders(opts, new URL(current).origin === origin), opts, policy);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304 && res.headers.location !== undefined) {
      res.resume();
      current = new URL(res.headers.location, current).toString();
      continue;
    }
    return respond(current, res, opts, opts.credentials !== undefined && new URL(current).origin !== origin ? origin : undefined);
  }
  throw new FeedError('http-status', `more than ${MAX_REDIRECTS} redirects starting at ${url}`);
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function respond(url: string, res: http.IncomingMessage, opts: FetchOptions, withheldFor?: string): FetchResult {
  const status = res.statusCode ?? 0;
  const etag = header(res, 'etag');
  const lastModified = header(res, 'last-modified');
  if (status === 304) {
    res.resume();
    return { status: 'not-modified', etag: etag ?? opts.etag, lastModified: lastModified ?? opts.lastModified };
  }
  if (status >= 500) {
    res.resume();
    throw new RetryableError(`HTTP ${status} from ${redact(url)}`);
  }
  if (status < 200 || status >= 300) {
    res.resume();
    throw new FeedError('http-status', `HTTP ${status} from ${redact(url)}${statusHint(status, withheldFor)}`);
  }
  const declared = Number(header(res, 'content-length') ?? NaN);
  const maxBytes = opts.maxBytes ?? FETCH_DEFAULTS.maxBytes;
  if (declared > maxBytes) {
    res.destroy();
    throw new FeedError('too-large', `${redact(url)} declares ${declared} bytes, more than the limit of ${maxBytes}; raise limits.maxBytes if that is expected`);
  }
  let received = 0;
  const raw = limitBytes(bodyStream(res, opts, declared), maxBytes, 'the download', (n) => { received = n; });
  // Content-Encoding can expand a small transfer without bound: count what it decodes to on every path (zip spool, TAXII pages included).
  const limits = limitsOf(opts);
  const decoded = limitBytes(contentDecode(raw, header(res, 'content-encoding')), limits.maxDecompressedBytes, 'the decoded download');
  const body = opts.unpack === false ? decoded : unpack(decoded, limits);
  return { status: 'ok', body, etag, lastModified, contentType: header(res, 'content-type'), url, bytesReceived: () => received, header: (name) => header(res, name.toLowerCase()) };
}

function statusHint(status: number, withheldFor: string | undefined): string {
  if (status === 404) return ': check the URL';
  if (status !== 401 && status !== 403) return '';
  if (withheldFor === undefined) return ': check the credentials (secretRef)';
  return `: the credentials were not sent, they go only to ${withheldFor} (the origin of the Feed's URL); point the Feed at this server's own URL if it is meant to have them`;
}

function limitsOf(opts: FetchOptions): SizeLimits {
  return { maxBytes: opts.maxBytes ?? FETCH_DEFAULTS.maxBytes, maxDecompressedBytes: opts.maxDecompressedBytes ?? FETCH_DEFAULTS.maxDecompressedBytes, zipMember: opts.zipMember, tmpDir: opts.tmpDir };
}

/** The response body with the idle and total timeouts and a truncation check against Content-Length. */
async function* bodyStream(res: http.IncomingMessage, opts: FetchOptions, declared: number): AsyncGenerator<Buffer> {
  const total = opts.timeoutMs ?? FETCH_DEFAULTS.timeoutMs;
  const idle = opts.idleTimeoutMs ?? FETCH_DEFAULTS.idleTimeoutMs;
  let failure: FeedError | undefined;
  const kill = (e: FeedError): void => {
    failure = e;
    res.destroy(e);
  };
  const timer = setTimeout(() => kill(new FeedError('timeout', `the download took longer than ${total} ms; raise limits.timeoutSeconds or check the server`)), total);
  // The socket may be reused (keep-alive): add the idle listener for this response only and remove it after.
  const socket = res.socket;
  const onIdle = (): void => kill(new FeedError('timeout', `the server sent nothing for ${idle} ms during the download`));
  socket?.setTimeout(idle);
  socket?.on('timeout', onIdle);
  let n = 0;
  try {
    for await (const chunk of res) {
      n += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (err) {
    if (failure !== undefined) throw failure;
    if (err instanceof FeedError) throw err;
    throw new FeedError('truncated', `the connection broke during the download after ${n} bytes: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    socket?.setTimeout(0);
    socket?.off('timeout', onIdle);
    res.destroy();
  }
  if (failure !== undefined) throw failure;
  checkComplete(res, declared, n);
}

/** Fails with 'truncated' when the response ended before its end (or its Content-Length). */
function checkComplete(res: http.IncomingMessage, declared: number, n: number): void {
  const known = Number.isFinite(declared);
  if (res.complete && !(known && header(res, 'content-encoding') === undefined && n < declared)) return;
  throw new FeedError('truncated', `the download ended after ${n} bytes${known ? ` of ${declared}` : ''} (connection closed early)`);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

function request(url: string, headers: Record<string, string>, opts: FetchOptions, policy: DestinationPolicy): Promise<http.IncomingMessage> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new FeedError('bad-config', `unsupported URL scheme ${u.protocol} (use http or https)`));
  const refused = hostRefusal(policy, u.hostname);
  if (refused !== undefined) return Promise.reject(refused);
  const mod = u.protocol === 'https:' ? https : http;
  const connectMs = opts.connectTimeoutMs ?? FETCH_DEFAULTS.connectTimeoutMs;
  return new Promise((resolve, reject) => {
    // The guarded lookup checks the very addresses the socket connects to (names; literals are checked above).
    const req = mod.request(u, { method: 'GET', headers, signal: opts.signal, lookup: guardedLookup(policy) }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => req.destroy(new RetryableError(`connection to ${u.host} timed out after ${connectMs} ms (no response headers)`)), connectMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      if (err instanceof RetryableError || err instanceof FeedError) reject(err);
      else if ((err as { name?: string }).name === 'AbortError') reject(new FeedError('network', 'the fetch was cancelled'));
      else reject(new RetryableError(`request to ${redact(url)} failed: ${(err).message}`));
    });
    req.end();
  });
}

/** Opens a local file as a payload (gzip/zip unpacked by sniffing), with the same size limits. */
export async function openFile(path: string, opts: Pick<FetchOptions, 'maxBytes' | 'maxDecompressedBytes' | 'zipMember' | 'unpack'> = {}): Promise<{ body: AsyncIterable<Buffer>; bytes: number }> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FeedError('unreadable', `${path} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof FeedError) throw err;
    throw new FeedError('unreadable', `cannot read ${path}: ${(err as Error).message}`);
  }
  const maxBytes = opts.maxBytes ?? FETCH_DEFAULTS.maxBytes;
  if (size > maxBytes) throw new FeedError('too-large', `${path} is ${size} bytes, more than the limit of ${maxBytes}`);
  const limits: SizeLimits = { maxBytes, maxDecompressedBytes: opts.maxDecompressedBytes ?? FETCH_DEFAULTS.maxDecompressedBytes, zipMember: opts.zipMember };
  if (opts.unpack === false) return { body: fileChunks(path), bytes: size };
  const head = await readHead(path);
  if (sniffContainer(head) === 'zip') return { body: limitBytes(readZipFile(path, limits), limits.maxDecompressedBytes, 'the decompressed payload'), bytes: size };
  return { body: unpack(fileChunks(path), limits), bytes: size };
}

async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 128 * 1024 })) yield chunk as Buffer;
  } catch (err) {
    throw new FeedError('unreadable', `cannot read ${path}: ${(err as Error).message}`);
  }
}

async function readHead(path: string): Promise<Buffer> {
  for await (const chunk of createReadStream(path, { start: 0, end: 3 })) return chunk as Buffer;
  return Buffer.alloc(0);
}
