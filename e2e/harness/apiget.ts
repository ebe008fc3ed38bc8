/** Raw HTTPS requests to a test API server, for what the typed client does not do (impersonation, Accept headers, aggregated APIs). */
import { request } from 'node:https';
import type { KubeTarget } from './kube.ts';

/** An answer: the status, the JSON body (or `{text}` when the body is not JSON) and the headers. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Sends `options` to `url` and reads the whole answer; fails after 30 s without one. */
export function sendJson(url: URL, options: Parameters<typeof request>[1]): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${url.pathname}: no answer within 30 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A request to `path` on the API server of `target` as its admin, impersonating `as` when given. @default GET, Accept application/json */
export function apiRequest(target: KubeTarget, path: string, opts: { readonly accept?: string; readonly as?: string; readonly method?: string } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json', ...(opts.as !== undefined ? { 'impersonate-user': opts.as } : {}) };
  return sendJson(new URL(path, target.server), { method: opts.method ?? 'GET', headers, ca: target.ca, cert: target.cert, key: target.key });
}
