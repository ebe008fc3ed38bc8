/**
 * A loopback HTTP server that serves the bundled feed snapshots (operator/src/feeds/fixtures),
 * and the Feeds that read from it, so the sandbox ingests real feed formats without internet.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { API_VERSION } from '../../api/schemas/index.ts';
import type { Feed, FeedFormat, FeedSpec } from '../../api/types.ts';

/** The directory of bundled feed snapshots. */
export const FIXTURES_DIR = new URL('../../feeds/fixtures/', import.meta.url);

/** A Feed of the sandbox: which snapshot it reads with which preset. */
export interface LocalFeedPlan {
  readonly name: string;
  /** File name in FIXTURES_DIR. */
  readonly fixture: string;
  readonly preset: string;
  readonly format: FeedFormat;
  readonly defaults: NonNullable<FeedSpec['defaults']>;
}

/** The sandbox's Feeds: two snapshots of public feeds in two formats. */
export const LOCAL_FEEDS: readonly LocalFeedPlan[] = [
  { name: 'local-feodo', fixture: 'feodo-ipblocklist.csv', preset: 'feodo', format: 'csv', defaults: { confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validFor: '30d' } },
  { name: 'local-openphish', fixture: 'openphish-feed.txt', preset: 'openphish', format: 'lines', defaults: { confidence: 70, tlp: 'clear', labels: ['phishing'], validFor: '7d' } },
];

/** A running snapshot server. */
export interface FeedServer {
  /** http://127.0.0.1:PORT/ */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves GET /<file> from FIXTURES_DIR (file names only, no paths) on `host` (loopback unless a
 * test's cluster must reach it: the kind target's pods), port picked by the kernel; `extra` maps
 * further names to files anywhere (a feed the user gave).
 */
export async function startFeedServer(extra: ReadonlyMap<string, string> = new Map(), host = '127.0.0.1'): Promise<FeedServer> {
  const server: Server = createServer((req, res) => {
    const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    readFile(extra.get(name) ?? new URL(name, FIXTURES_DIR)).then(
      (body) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body),
      () => res.writeHead(404, { 'content-type': 'text/plain' }).end(`no bundled snapshot named ${name}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The Feed object of `plan` in `namespace`, reading from the server at `baseUrl`. */
export function localFeed(plan: LocalFeedPlan, baseUrl: string, namespace: string): Feed {
  return {
    apiVersion: API_VERSION,
    kind: 'Feed',
    metadata: { name: plan.name, namespace, labels: { 'app.kubernetes.io/part-of': 'threatmesh-sandbox' } },
    spec: { url: new URL(plan.fixture, baseUrl).href, format: plan.format, preset: plan.preset, schedule: { interval: '10m' }, defaults: plan.defaults },
  };
}
