/**
 * HTTP vocabulary of the partner's server: a transport-free request and reply (so views are
 * plain functions, tested without sockets), TAXII 2.1 media types and content negotiation, and
 * TAXII error bodies (title, description, http_status as a string, error_code).
 */

/** The TAXII 2.1 media type of every TAXII resource. */
export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';

/** What a view receives: the authenticated request, body already read within the size limit. */
export interface ServeRequest {
  readonly method: string;
  /** Path without the query string, percent-decoded per segment. */
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: Buffer;
}

/** What a view returns. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

/** A TAXII error message resource (TAXII 2.1 §3.6.1). */
export interface TaxiiErrorBody {
  readonly title: string;
  readonly description?: string;
  readonly error_code?: string;
  readonly http_status: string;
}

/** A TAXII reply with a JSON body. */
export function taxiiJson(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply {
  return { status, headers: { 'content-type': TAXII_MEDIA_TYPE, ...headers }, body: JSON.stringify(body) };
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** A TAXII error reply: `description` says what was wrong and what to do. */
export function taxiiError(status: number, description: string, code?: string, headers: Readonly<Record<string, string>> = {}): Reply {
  const body: TaxiiErrorBody = { title: TITLES[status] ?? 'Error', description, http_status: String(status), ...(code === undefined ? {} : { error_code: code }) };
  return taxiiJson(status, body, headers);
}

interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(',').map((part) => {
    const [type = '', ...rest] = part.split(';').map((s) => s.trim());
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ''));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    params.delete('q');
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
  }).filter((r) => r.type !== '');
}

/**
 * True when an Accept header admits the TAXII 2.1 media type: `application/taxii+json` with
 * version 2.1 or no version (the latest, which is 2.1). Wildcards are not TAXII: a TAXII
 * client names the type. A missing header is refused too (406), as the spec requires clients
 * to send one.
 */
export function acceptsTaxii(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return parseAccept(accept).some((r) => r.q > 0 && r.type === 'application/taxii+json' && [...r.params.keys()].every((k) => k === 'version') && (r.params.get('version') ?? '2.1') === '2.1');
}

/** True when a Content-Type names the TAXII 2.1 media type (version 2.1 or none). */
export function isTaxiiContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [r] = parseAccept(contentType);
  return r !== undefined && r.type === 'application/taxii+json' && [...r.params.keys()].every((k) => k === 'version' || k === 'charset') && (r.params.get('version') ?? '2.1') === '2.1';
}

/** RFC 3339 with milliseconds and Z, as TAXII timestamps and X-TAXII-Date-Added-* headers carry them. */
export function taxiiTimestamp(d: Date): string {
  return d.toISOString();
}

/** Parses an RFC 3339 timestamp with a zone (TAXII `added_after`); undefined when it is not one. */
export function parseTimestamp(text: string): Date | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i.test(text)) return undefined;
  const d = new Date(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(d.getTime()) ? undefined : d;
}
