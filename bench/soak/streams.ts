/**
 * A partner-side process of the soak benchmark: follows the sequencer's log as each of its
 * identities (one mTLS channel per identity, as separate partners would), each waiting for a
 * larger tree head and streaming the new entries. Entries are decoded, not verified: verifying
 * 100 copies of the log would spend this machine's cores on the clients instead of the
 * sequencer under test. Every 2 s, and once at SIGTERM, prints one JSON line of
 * {@link StreamStats} on stdout.
 *
 * Usage: node bench/soak/streams.ts <config.json> (a {@link StreamsConfig}).
 */
import { readFileSync } from 'node:fs';
import { ExchangeClient, ExchangeCallError } from '../../operator/src/exchange/protocol/client.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';

/** What the benchmark passes to a streams process. */
export interface StreamsConfig {
  readonly address: string;
  readonly caPem: string;
  readonly identities: ReadonlyArray<{ readonly id: string; readonly certPem: string; readonly keyPem: string }>;
}

/** Counters a streams process reports. */
export interface StreamStats {
  readonly streams: number;
  /** Entries received over every stream. */
  readonly received: number;
  /** Entries that did not decode. */
  readonly undecodable: number;
  /** Largest tree size any identity has caught up with. */
  readonly size: number;
  /** The smallest: how far the slowest identity is. */
  readonly minSize: number;
  /** Followers more than 1,000 entries behind the fastest one (a follower that fell behind, not the ordinary lag of one head). */
  readonly laggards: number;
  /** Failed calls by gRPC code or reason. */
  readonly errors: Readonly<Record<string, number>>;
  /** V8 heap in use and external memory (MiB): growing RSS over a flat heap is the allocator or a lazy GC, not JS objects kept. */
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as StreamsConfig;
const stop = new AbortController();
const sizes = config.identities.map(() => 0);
const errors: Record<string, number> = {};
let received = 0;
let undecodable = 0;

async function catchUp(client: ExchangeClient, k: number): Promise<void> {
  const head = await client.treeHead(sizes[k]! + 1, 5_000);
  // The server caps one stream; the caller's loop resumes from where it ended.
  for await (const e of client.entries(sizes[k]!, head.treeSize)) {
    received++;
    if (!e.ok) undecodable++;
    sizes[k]!++;
    if (stop.signal.aborted) return;
  }
}

async function follow(k: number, tls: TlsMaterial): Promise<void> {
  const client = new ExchangeClient({ address: config.address, tls, serverName: 'localhost', deadlineMs: 15_000 });
  try {
    while (!stop.signal.aborted) {
      try {
        await catchUp(client, k);
      } catch (err) {
        if (stop.signal.aborted) break;
        const key = err instanceof ExchangeCallError ? err.reason ?? `code ${err.code}` : 'error';
        errors[key] = (errors[key] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  } finally {
    client.close();
  }
}

function report(): void {
  const mem = process.memoryUsage();
  const stats: StreamStats = { streams: config.identities.length, received, undecodable, size: Math.max(...sizes), minSize: Math.min(...sizes), laggards: sizes.filter((n) => n < Math.max(...sizes) - 1_000).length, errors, heapUsedMiB: Math.round(mem.heapUsed / 2 ** 20), externalMiB: Math.round((mem.external + mem.arrayBuffers) / 2 ** 20) };
  process.stdout.write(JSON.stringify(stats) + '\n');
  // The log file keeps the history: which followers fell behind, and when.
  process.stderr.write(`${new Date().toISOString()} sizes ${[...sizes].sort((a, b) => a - b).slice(0, 5).join(',')} … ${stats.size}; errors ${JSON.stringify(errors)}\n`);
}

const ticker = setInterval(report, 2_000);
const done = Promise.all(config.identities.map((id, k) => follow(k, { caPem: config.caPem, certPem: id.certPem, keyPem: id.keyPem })));
const ending = (): void => {
  stop.abort();
  clearInterval(ticker);
  report();
  // Streams mid-call end with their channel; do not wait for long-polls to time out.
  setTimeout(() => process.exit(0), 2_000).unref();
  void done.then(() => process.exit(0));
};
process.once('SIGTERM', ending);
process.once('SIGINT', ending);
