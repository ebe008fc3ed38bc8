/**
 * Requests a kube-apiserver served, counted by the server itself (`apiserver_request_total` on
 * /metrics): what benches and integration tests read to count the requests a writer made per
 * object, independent of the client's own bookkeeping.
 */
import { request } from 'node:https';

/** How to reach an API server as its admin (a dev/controlplane instance's credentials). */
export interface MetricsTarget {
  readonly server: string;
  readonly ca?: string | Buffer | undefined;
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
}

/**
 * Requests for `resource` in a /metrics text, summed over codes and scopes, keyed by verb and
 * subresource (`POST`, `GET`, `PATCH/status`, `LIST`, `WATCH`…). Lines of other resources, other
 * metrics and comments are ignored.
 */
export function requestCounts(metricsText: string, resource: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (labels['resource'] !== resource) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    const key = labels['subresource'] ? `${labels['verb']}/${labels['subresource']}` : labels['verb'] ?? '?';
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

/** Each count of `after` less the same count of `before` (zeros left out). */
export function countsSince(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Reads the API server's /metrics and returns {@link requestCounts} for `resource`. */
export function apiRequestCounts(target: MetricsTarget, resource: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/metrics', target.server), { ...(target.ca !== undefined ? { ca: target.ca } : {}), ...(target.cert !== undefined ? { cert: target.cert } : {}), ...(target.key !== undefined ? { key: target.key } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => res.statusCode === 200 ? resolve(requestCounts(text, resource)) : reject(new Error(`GET ${target.server}/metrics answered ${res.statusCode}: ${text.slice(0, 200)}`)));
    });
    req.on('error', reject);
    req.end();
  });
}
