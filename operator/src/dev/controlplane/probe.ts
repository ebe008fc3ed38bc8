/** Readiness probes for the local control plane: free ports, the apiserver's /readyz, a MongoDB ping. */
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import type { AdminCredentials } from './kubeconfig.ts';

/** Where ports come from: the kernel's ephemeral range and a random source (tests pass their own). */
export interface PortSource {
  /** Lowest and highest port the kernel gives to outgoing connections and bind(0). @default read from /proc/sys/net/ipv4/ip_local_port_range, else 32768–60999 */
  readonly ephemeral?: readonly [number, number];
  /** A number in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** How many ports below the ephemeral range are drawn from. */
const SPAN = 12_000;

async function ephemeralRange(): Promise<readonly [number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo > 1024 ? [lo, hi] : [32768, 60999];
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago. They are drawn at random below
 * the kernel's ephemeral range, not from bind(0): the kernel hands ports of that range to
 * outgoing connections and to the next bind(0), so a port it picked can be taken before the
 * server meant for it binds (seen: a sequencer and a TAXII server handed the same port). Ask for
 * every port of one start-up in one call: they are distinct.
 */
export async function freePorts(n: number, source: PortSource = {}): Promise<number[]> {
  const [lo] = source.ephemeral ?? await ephemeralRange();
  const random = source.random ?? Math.random;
  const base = Math.max(1025, lo - SPAN);
  const chosen = new Set<number>();
  for (let tries = 0; chosen.size < n; tries++) {
    if (tries >= 50 + n * 20) throw new Error(`freePorts: no ${n} free ports on 127.0.0.1 between ${base} and ${lo - 1} after ${tries} tries; free some or widen net.ipv4.ip_local_port_range`);
    const port = base + Math.floor(random() * (lo - base));
    if (!chosen.has(port) && await bindable(port)) chosen.add(port);
  }
  return [...chosen];
}

/** One TCP port on 127.0.0.1 that was free a moment ago (see freePorts). */
export async function freePort(source: PortSource = {}): Promise<number> {
  const [port] = await freePorts(1, source);
  return port!;
}

/** GETs `path` on the apiserver as the admin; resolves to the status code and body. */
export async function adminGet(creds: AdminCredentials, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, creds.server), {
      ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** True when the apiserver answers /readyz with 200. */
export async function apiserverReady(creds: AdminCredentials): Promise<boolean> {
  return (await adminGet(creds, '/readyz')).status === 200;
}

/** True when the MongoDB server at `uri` answers `ping`. */
export async function mongoReady(uri: string, timeoutMs = 2000): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    const res = await client.db('admin').command({ ping: 1 });
    return res['ok'] === 1;
  } finally {
    await client.close();
  }
}
