/**
 * A minimal S3 client for log objects: GetObject (whole or a byte range), HeadObject and
 * ListObjectsV2, path-style (`endpoint/bucket/key`, which Ceph RGW and every S3-compatible store
 * serve), signed with AWS Signature Version 4 (header auth, payload hash of the empty body).
 * Errors are ScanErrors ('object-store') that carry the store's error code and say what to check.
 */
import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { ScanError } from './errors.ts';

/** Where a bucket lives and how to sign for it. */
export interface S3Config {
  /** Base URL of the store, e.g. https://rgw.example.org or http://127.0.0.1:7070. */
  readonly endpoint: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials' session token, when any. */
  readonly sessionToken?: string | undefined;
}

/** One listed object. */
export interface S3Object {
  readonly key: string;
  readonly size: number;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 encoding as SigV4 wants it; `/` kept in object keys. */
function uriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(ch);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${ch.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** One request to sign. */
export interface SignedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  /** Hex SHA-256 of the body. @default the empty body's */
  readonly payloadHash?: string;
}

/** The SigV4 headers of a request (pure: time is passed in). */
export function signV4(cfg: S3Config, req: SignedRequest, now: Date): Record<string, string> {
  const { method, url, headers } = req;
  const payloadHash = req.payloadHash ?? EMPTY_SHA256;
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const region = cfg.region ?? 'us-east-1';
  const all: Record<string, string> = { ...headers, host: url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  if (cfg.sessionToken !== undefined) all['x-amz-security-token'] = cfg.sessionToken;
  const names = Object.keys(all).map((k) => k.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const query = [...url.searchParams.entries()].map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)]).sort((a, b) => (a[0] === b[0] ? (a[1] ?? '').localeCompare(b[1] ?? '') : (a[0] ?? '') < (b[0] ?? '') ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [method, uriEncode(decodeURIComponent(url.pathname), true), query, names.map((n) => `${n}:${lower[n] ?? ''}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${cfg.secretAccessKey}`, day), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${cfg.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

/** The S3 client; see the module doc. */
export class S3Client {
  readonly #cfg: S3Config;
  readonly #now: () => Date;

  constructor(cfg: S3Config, now: () => Date = () => new Date()) {
    this.#cfg = cfg;
    this.#now = now;
  }

  #url(bucket: string, key = ''): URL {
    // URL parsing resolves "." and ".." segments: a key holding them would address another object or bucket.
    if (key.split('/').some((seg) => seg === '.' || seg === '..')) throw new ScanError('object-store', `object key ${JSON.stringify(key.slice(0, 200))} has a "." or ".." segment, which path-style requests cannot address; rename the object`);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ScanError('bad-config', `${JSON.stringify(bucket.slice(0, 100))} is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)`);
    const base = this.#cfg.endpoint.replace(/\/+$/, '');
    return new URL(`${base}/${uriEncode(bucket, false)}/${uriEncode(key, true)}`);
  }

  async #request(method: string, url: URL, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
    const signed = signV4(this.#cfg, { method, url, headers }, this.#now());
    const mod = url.protocol === 'https:' ? https : http;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, { method, headers: signed }, resolve);
      req.on('error', (err) => reject(new ScanError('object-store', `request to ${url.host} failed: ${err.message}; check the endpoint`)));
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw await storeError(res, method, url);
  }

  /** The object's bytes (`range` is [start, end) in bytes; the whole object when absent). */
  async *get(bucket: string, key: string, range?: { start: number; end?: number | undefined }): AsyncGenerator<Buffer> {
    const headers: Record<string, string> = range === undefined ? {} : { range: `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}` };
    const res = await this.#request('GET', this.#url(bucket, key), headers);
    for await (const chunk of res) yield chunk as Buffer;
    if (!res.complete) throw new ScanError('truncated', `s3://${bucket}/${key}: the connection closed before the object's end`);
  }

  /** The object's size in bytes. */
  async size(bucket: string, key: string): Promise<number> {
    const res = await this.#request('HEAD', this.#url(bucket, key));
    res.resume();
    return Number(res.headers['content-length'] ?? NaN);
  }

  /** Every object under `prefix`, in key order (all pages). */
  async list(bucket: string, prefix: string): Promise<S3Object[]> {
    const out: S3Object[] = [];
    let token: string | undefined;
    do {
      const url = this.#url(bucket);
      url.searchParams.set('list-type', '2');
      url.searchParams.set('prefix', prefix);
      if (token !== undefined) url.searchParams.set('continuation-token', token);
      const res = await this.#request('GET', url);
      const xml = await text(res);
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const body = m[1] ?? '';
        out.push({ key: xmlText(tag(body, 'Key')), size: Number(tag(body, 'Size')) });
      }
      token = tag(xml, 'IsTruncated') === 'true' ? xmlText(tag(xml, 'NextContinuationToken')) : undefined;
    } while (token !== undefined && token !== '');
    return out;
  }
}

async function text(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function tag(xml: string, name: string): string {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m?.[1] ?? '';
}

function xmlText(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

async function storeError(res: http.IncomingMessage, method: string, url: URL): Promise<ScanError> {
  const body = method === 'HEAD' ? '' : await text(res).catch(() => '');
  const code = tag(body, 'Code') || `HTTP ${res.statusCode ?? 0}`;
  const hint = res.statusCode === 403 ? ': check the access key and secret (the store refused the signature or the grant)'
    : res.statusCode === 404 ? ': check the bucket and key' : '';
  return new ScanError('object-store', `${method} ${url.pathname}: ${code}${tag(body, 'Message') ? ` (${tag(body, 'Message')})` : ''}${hint}`);
}
