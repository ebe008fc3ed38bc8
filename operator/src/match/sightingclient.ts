/**
 * The HTTPS client of a partner's sightings API (serve/sightings.ts), used by `threatmesh edge`
 * and by a partner pushing its own sightings to its peers (match/push.ts). It authenticates as
 * a `sighter` consumer with an mTLS client certificate or a bearer token, and sorts every answer
 * to a report into sent, refused (the report itself is wrong: resending cannot help) or
 * unavailable (the peer is down or overloaded: send it again later).
 */
import { request } from 'node:https';
import type { SignedSightingReport } from './sharing.ts';

/** Where a peer's sightings API is and how to authenticate to it. */
export interface SightingEndpoint {
  /** The peer's HTTPS server (`threatmesh serve`), `https://host:port`. */
  readonly base: URL;
  /** CA certificates (PEM) that verify the peer's server; default the system roots. */
  readonly ca?: string;
  /** mTLS client certificate and key (PEM). */
  readonly cert?: string;
  readonly key?: string;
  /** Bearer token, instead of a client certificate. */
  readonly token?: string;
}

/** The endpoint at `base` from the contents of its optional files (the token file's text is trimmed). */
export function endpointOf(base: URL, files: { readonly ca?: string | undefined; readonly cert?: string | undefined; readonly key?: string | undefined; readonly token?: string | undefined }): SightingEndpoint {
  const { ca, cert, key, token } = files;
  return { base, ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert, key: key ?? '' } : {}), ...(token !== undefined ? { token: token.trim() } : {}) };
}

/** A raw HTTP answer. */
export interface SightingReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** How sending one report went. */
export type PostOutcome =
  | { readonly outcome: 'sent'; readonly accepted: number; readonly ignored: number }
  | { readonly outcome: 'refused' | 'unavailable'; readonly status: number; readonly detail: string };

const TIMEOUT_MS = 30_000;

/** One HTTPS request to the peer; rejects on transport errors and after 30 s without an answer. */
export function callPeer(c: SightingEndpoint, method: string, path: string, headers: Record<string, string>, body?: string): Promise<SightingReply> {
  const url = new URL(path, c.base);
  return new Promise((res, rej) => {
    const req = request({
      host: c.base.hostname, port: c.base.port, path: url.pathname + url.search, method, timeout: TIMEOUT_MS,
      ...(c.ca !== undefined ? { ca: c.ca } : {}), ...(c.cert !== undefined ? { cert: c.cert, key: c.key } : {}),
      headers: { ...headers, ...(c.token !== undefined ? { authorization: `Bearer ${c.token}` } : {}) },
    }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { text += d; });
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${c.base.origin} did not answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', rej);
    req.end(body);
  });
}

/**
 * Sends one signed report. 400 and 403 are refusals of the report itself (wrong key, a name that
 * is not ours, a malformed or out-of-range sighting); anything else that is not 200, and every
 * transport error, means "try again later".
 */
export async function postReport(c: SightingEndpoint, report: SignedSightingReport | string): Promise<PostOutcome> {
  let r: SightingReply;
  try {
    r = await callPeer(c, 'POST', '/sightings/v1/reports', { 'content-type': 'application/json' }, typeof report === 'string' ? report : JSON.stringify(report));
  } catch (err) {
    return { outcome: 'unavailable', status: 0, detail: err instanceof Error ? err.message : String(err) };
  }
  if (r.status === 200) {
    const b = parseCounts(r.body);
    return { outcome: 'sent', accepted: b.accepted, ignored: b.ignored };
  }
  return { outcome: r.status === 400 || r.status === 403 ? 'refused' : 'unavailable', status: r.status, detail: r.body.slice(0, 300) };
}

function parseCounts(body: string): { accepted: number; ignored: number } {
  try {
    const o = JSON.parse(body) as { accepted?: unknown; ignored?: unknown };
    return { accepted: typeof o.accepted === 'number' ? o.accepted : 0, ignored: typeof o.ignored === 'number' ? o.ignored : 0 };
  } catch {
    return { accepted: 0, ignored: 0 };
  }
}
