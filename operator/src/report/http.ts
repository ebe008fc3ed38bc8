/**
 * The reports' part of the partner HTTPS API, for the server in serve/ to mount: `GET /trends`
 * and `GET /reports[/<id>[.json|.md|.html]]`. The server authenticates the caller and passes its
 * identity with the most restrictive TLP it may read; every answer is cut to that TLP (trends
 * count nothing above it; a report marked above it is refused, and left out of the list).
 * The handler answers only its own paths and resolves false for every other one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { parseSince, windowEnding, type Window } from './period.ts';
import { renderHtml, renderMarkdown, type ReportDocument } from './render.ts';
import { lowerTlp, parseTlp, tlpAllows, type Tlp } from './tlp.ts';
import type { Trends } from './trends.ts';

/** Who is asking, as the serving layer authenticated them. */
export interface ReportCaller {
  /** The partner or user id, for logs. */
  readonly id: string;
  /** The most restrictive TLP the caller may read (a PartnerNode's spec.maxTlp, a role's ceiling). */
  readonly maxTlp: Tlp;
}

/** What the routes read (report/source.ts PartnerData and its store provide it). */
export interface ReportReader {
  trends(w: Window, ceiling: Tlp): Promise<Trends>;
  readonly store: {
    report(id: string): Promise<ReportDocument | undefined>;
    listReports(opts?: { limit?: number }): Promise<Array<{ id: string; report: string; createdAt: string; since: string; until: string; tlp: Tlp; model: string | undefined; headline: string; generator: string }>>;
  };
}

/** What the routes are built with. */
export interface ReportRoutesDeps {
  readonly reader: ReportReader;
  readonly log?: Logger | undefined;
  /** @default () => new Date() */
  readonly now?: (() => Date) | undefined;
}

/** A request handler: true when it answered the request, false when the path is not its own. */
export type ReportRoutes = (req: IncomingMessage, res: ServerResponse, caller: ReportCaller) => Promise<boolean>;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));

function ceilingOf(url: URL, caller: ReportCaller): Tlp {
  const asked = url.searchParams.get('maxTlp');
  if (asked === null) return caller.maxTlp;
  try {
    return lowerTlp(caller.maxTlp, parseTlp(asked, 'maxTlp'));
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

async function trends(deps: ReportRoutesDeps, url: URL, caller: ReportCaller, res: ServerResponse): Promise<void> {
  let ms: number;
  try {
    ms = parseSince(url.searchParams.get('since') ?? '30d');
  } catch (err) {
    throw new HttpError(400, `since: ${(err as Error).message}`);
  }
  const ceiling = ceilingOf(url, caller);
  json(res, 200, await deps.reader.trends(windowEnding((deps.now ?? (() => new Date()))(), ms), ceiling));
}

async function list(deps: ReportRoutesDeps, url: URL, caller: ReportCaller, res: ServerResponse): Promise<void> {
  const limit = Math.min(200, Math.max(1, Number(url.searchParams.get('limit') ?? '50') || 50));
  const all = await deps.reader.store.listReports({ limit: 1000 });
  json(res, 200, { reports: all.filter((r) => tlpAllows(caller.maxTlp, r.tlp)).slice(0, limit) });
}

const FORMATS: Readonly<Record<string, [string, (d: ReportDocument) => string]>> = {
  json: ['application/json', (d) => JSON.stringify(d)],
  md: ['text/markdown; charset=utf-8', renderMarkdown],
  html: ['text/html; charset=utf-8', renderHtml],
};

async function one(deps: ReportRoutesDeps, name: string, caller: ReportCaller, res: ServerResponse): Promise<void> {
  const m = /^([A-Za-z0-9._-]+?)(?:\.(json|md|html))?$/.exec(name);
  if (!m) throw new HttpError(400, 'a report id has letters, digits, dots, dashes and underscores, optionally followed by .json, .md or .html');
  const doc = await deps.reader.store.report(m[1] ?? '');
  if (doc === undefined) throw new HttpError(404, `no report ${JSON.stringify(m[1])}; GET /reports lists them`);
  if (!tlpAllows(caller.maxTlp, doc.tlp)) throw new HttpError(403, `report ${doc.id} is marked TLP:${doc.tlp.toUpperCase()}, above what you may read (TLP:${caller.maxTlp.toUpperCase()})`);
  const [type, render] = FORMATS[m[2] ?? 'json'] ?? FORMATS['json']!;
  send(res, 200, type, render(doc));
}

/** The routes of `/trends` and `/reports/...`. */
export function reportRoutes(deps: ReportRoutesDeps): ReportRoutes {
  return async (req, res, caller) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const isTrends = path === '/trends';
    const reportName = path.startsWith('/reports/') ? decodeURIComponent(path.slice('/reports/'.length)) : undefined;
    if (!isTrends && path !== '/reports' && reportName === undefined) return false;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        throw new HttpError(405, `${req.method ?? ''} is not supported here; use GET`);
      }
      if (isTrends) await trends(deps, url, caller, res);
      else if (reportName === undefined) await list(deps, url, caller, res);
      else await one(deps, reportName, caller, res);
    } catch (err) {
      if (err instanceof HttpError) json(res, err.status, { error: err.message });
      else {
        deps.log?.error('report request failed', { path, caller: caller.id, err });
        json(res, 500, { error: 'internal error; see the operator log' });
      }
    }
    return true;
  };
}
