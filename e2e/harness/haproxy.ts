/**
 * A real HAProxy (Debian's `haproxy` package, installed by scripts/install-haproxy.sh) for tests
 * and benchmarks, started on 127.0.0.1 with a generated configuration that follows the
 * deployment contract: a runtime API at admin level on a Unix socket and on TCP, the two deny
 * maps loaded at start (empty files), and requests denied with 403 when
 * `req.hdr(host),host_only,lower,map_dom(hosts)` or `src,map_ip(ips)` finds them. A second
 * listener accepts the PROXY protocol so a test can present a public client address (a
 * loopback source is reserved and never enforced).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePorts } from '../../operator/src/dev/controlplane/probe.ts';

/** A running HAProxy. */
export interface TestHaproxy {
  readonly socket: string;
  /** `unix:<socket>` */
  readonly unixApi: string;
  /** `tcp:127.0.0.1:<port>` */
  readonly tcpApi: string;
  readonly hostsMap: string;
  readonly ipsMap: string;
  readonly httpPort: number;
  readonly proxyPort: number;
  /** Stops and starts the process again (maps reload from their empty files). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The haproxy binary, or a message saying how to install it. */
export function haproxyBinary(): string {
  for (const p of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) if (existsSync(p)) return p;
  throw new Error('haproxy is not installed: run `bash scripts/install-haproxy.sh` (Debian package haproxy)');
}

function config(dir: string, adminPort: number, httpPort: number, proxyPort: number): string {
  const hosts = join(dir, 'maps', 'threatmesh-deny-hosts.map');
  const ips = join(dir, 'maps', 'threatmesh-deny-ips.map');
  return `global
  stats socket ${join(dir, 'admin.sock')} mode 660 level admin
  stats socket ipv4@127.0.0.1:${adminPort} level admin
defaults
  mode http
  timeout client 10s
  timeout server 10s
  timeout connect 5s
frontend front
  bind 127.0.0.1:${httpPort}
  bind 127.0.0.1:${proxyPort} accept-proxy
  http-request deny deny_status 403 if { req.hdr(host),host_only,lower,map_dom(${hosts}) -m found }
  http-request deny deny_status 403 if { src,map_ip(${ips}) -m found }
  http-request return status 200 content-type text/plain string ok
`;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`HAProxy: ${what} within ${timeoutMs} ms`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** Starts HAProxy in `dir` (which must exist). */
export async function startHaproxy(dir: string): Promise<TestHaproxy> {
  const bin = haproxyBinary();
  await mkdir(join(dir, 'maps'), { recursive: true });
  const [adminPort, httpPort, proxyPort] = await freePorts(3) as [number, number, number];
  const hostsMap = join(dir, 'maps', 'threatmesh-deny-hosts.map');
  const ipsMap = join(dir, 'maps', 'threatmesh-deny-ips.map');
  await writeFile(hostsMap, '');
  await writeFile(ipsMap, '');
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, config(dir, adminPort, httpPort, proxyPort));
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    child = spawn(bin, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr?.on('data', (c: Buffer) => { output += c.toString(); });
    await waitFor(async () => (await portOpen(adminPort)) && (await portOpen(httpPort)), `did not listen (output: ${output.slice(-500)})`);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    socket: join(dir, 'admin.sock'), unixApi: `unix:${join(dir, 'admin.sock')}`, tcpApi: `tcp:127.0.0.1:${adminPort}`,
    hostsMap, ipsMap, httpPort, proxyPort,
    restart: async () => { await stop(); await start(); },
    stop,
  };
}

/**
 * Sends `GET /` with Host `host` and returns the status code. With `from`, connects to the
 * PROXY-protocol listener and presents that client address.
 */
export function httpStatus(h: TestHaproxy, host: string, from?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: from ? h.proxyPort : h.httpPort });
    let answer = '';
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('HAProxy did not answer within 5 s')); });
    sock.on('error', reject);
    sock.on('data', (c: Buffer) => { answer += c.toString(); });
    sock.on('end', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`not an HTTP answer: ${JSON.stringify(answer.slice(0, 200))}`));
    });
    sock.on('connect', () => {
      const fam = from?.includes(':') ? 'TCP6' : 'TCP4';
      const proxy = from ? `PROXY ${fam} ${from} ${fam === 'TCP6' ? '::1' : '127.0.0.1'} 40000 ${h.proxyPort}\r\n` : '';
      sock.write(`${proxy}GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
  });
}
