/**
 * A partner-side process of the soak benchmark: follows the sequencer's log as each of its
 * identities (one mTLS channel per identity, as separate partners would), each waiting for a
 * larger tree head and streaming the new entries. Entries are decoded, not verified: verifying
 * 100 copies of the log would spend this machine's cores on the clients instead of the
 * sequencer under test. With `count: true` entries are not even decoded: each batch message is
 * walked field by field to count its entries (the same calls on the wire, GetTreeHead and
 * StreamEntryBatches, on one channel per identity), so on a shared machine the followers leave
 * the cores to the sequencer. Followers use the live tail (protocol revision 4, one FollowLog
 * stream each) unless `calls` asks for the calls per tree head. Every 2 s, and once at SIGTERM, prints one JSON line of
 * {@link StreamStats} on stdout.
 *
 * Usage: node bench/soak/streams.ts <config.json> (a {@link StreamsConfig}).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { REASON_TRAILER } from '../../operator/src/exchange/protocol/grpcserver.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { channelCredentials } from '../../operator/src/exchange/protocol/tls.ts';
import { ExchangeClient, ExchangeCallError } from '../../operator/src/exchange/protocol/client.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { LiveTail } from '../../operator/src/exchange/partner/livetail.ts';

/** What the benchmark passes to a streams process. */
export interface StreamsConfig {
  readonly address: string;
  readonly caPem: string;
  readonly identities: ReadonlyArray<{ readonly id: string; readonly certPem: string; readonly keyPem: string }>;
  /** Count the entries of each batch without decoding them (see above). @default false */
  readonly count?: boolean;
  /** Follow with the calls per tree head (GetTreeHead, StreamEntryBatches), as before protocol revision 4, instead of the live tail (FollowLog). @default false */
  readonly calls?: boolean;
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

async function catchUp(client: Pick<ExchangeClient, 'treeHead' | 'entries'> | CountingFollower | LiveTail, k: number): Promise<void> {
  const head = await client.treeHead(sizes[k]! + 1, 5_000);
  // The server caps one stream; the caller's loop resumes from where it ended.
  for await (const e of client.entries(sizes[k]!, head.treeSize)) {
    received++;
    if (!e.ok) undecodable++;
    sizes[k]!++;
    if (stop.signal.aborted) return;
  }
}

const service = loadExchangePackage().Exchange.service;

/** Entries in one encoded LogEntryBatch: its top-level fields (each field 1, length-delimited), walked without decoding them. */
function entriesIn(b: Buffer): number {
  let n = 0;
  let at = 0;
  while (at < b.length) {
    if (b[at] !== 0x0a) throw new Error(`not a LogEntryBatch: field tag ${b[at]} at byte ${at}`);
    at += 1;
    let len = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = b[at++]!;
      len += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
    }
    at += len;
    n += 1;
  }
  return n;
}

function callError(err: unknown): ExchangeCallError {
  const e = err as Partial<grpc.ServiceError>;
  const reason = e.metadata?.get(REASON_TRAILER)[0];
  return new ExchangeCallError(e.code ?? grpc.status.UNKNOWN, e.details ?? String(err), typeof reason === 'string' ? reason : undefined);
}

/** One identity's follower that only counts: GetTreeHead and StreamEntryBatches on its own channel, nothing decoded but the head. */
class CountingFollower {
  readonly #client: grpc.Client;
  constructor(tls: TlsMaterial) {
    this.#client = new grpc.Client(config.address, channelCredentials(tls), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost', 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  }

  treeHead(minTreeSize: number, waitMs: number): Promise<{ treeSize: number }> {
    const def = service.GetTreeHead;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(def.path, (r: { minTreeSize: number; waitMs: number }) => def.requestSerialize(r), (b: Buffer) => def.responseDeserialize(b) as { treeSize: number }, { minTreeSize, waitMs }, { deadline: Date.now() + waitMs + 15_000 }, (err, head) => (err ? reject(callError(err)) : resolve({ treeSize: Number(head!.treeSize) })));
    });
  }

  async *entries(from: number, treeSize: number): AsyncGenerator<{ ok: boolean }> {
    const def = service.StreamEntryBatches;
    const stream = this.#client.makeServerStreamRequest(def.path, (r: { fromIndex: number; treeSize: number; maxEntries: number; maxBytes: number }) => def.requestSerialize(r), (b: Buffer) => b, { fromIndex: from, treeSize, maxEntries: 0, maxBytes: 0 }, { deadline: Date.now() + 300_000 });
    try {
      for await (const b of stream as AsyncIterable<Buffer>) {
        const n = entriesIn(b);
        for (let i = 0; i < n; i++) yield { ok: true };
      }
    } catch (err) {
      throw callError(err);
    } finally {
      stream.cancel();
    }
  }

  /**
   * The live tail (protocol revision 4) from this identity's cursor until it ends: heads are
   * skipped (the first byte of a LogTail holding one is field 2's tag), entries counted.
   */
  async tail(k: number): Promise<void> {
    const def = service.FollowLog;
    const stream = this.#client.makeServerStreamRequest(def.path, (r: { fromIndex: number; treeSize: number; maxEntries: number; maxBytes: number }) => def.requestSerialize(r), (b: Buffer) => b, { fromIndex: sizes[k]!, treeSize: 0, maxEntries: 0, maxBytes: 0 }, { deadline: Date.now() + 300_000 });
    try {
      for await (const b of stream as AsyncIterable<Buffer>) {
        if (b[0] !== 0x0a) continue;
        const n = entriesIn(b);
        received += n;
        sizes[k]! += n;
        if (stop.signal.aborted) return;
      }
    } catch (err) {
      throw callError(err);
    } finally {
      stream.cancel();
    }
  }

  close(): void {
    this.#client.close();
  }
}

// One pass of a follower: the live tail until it ends (the counting one), else a head and its entries.
async function step(client: ExchangeClient | CountingFollower, tail: LiveTail | undefined, k: number): Promise<void> {
  if (config.calls === true || client instanceof ExchangeClient) return catchUp(tail ?? client, k);
  return client.tail(k);
}

async function follow(k: number, tls: TlsMaterial): Promise<void> {
  const client = config.count === true ? new CountingFollower(tls) : new ExchangeClient({ address: config.address, tls, serverName: 'localhost', deadlineMs: 15_000 });
  const tail = client instanceof ExchangeClient && config.calls !== true ? new LiveTail(client, { signal: stop.signal }) : undefined;
  try {
    while (!stop.signal.aborted) {
      try {
        await step(client, tail, k);
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
