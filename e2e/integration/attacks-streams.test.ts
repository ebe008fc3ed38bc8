/**
 * Trust model, attack 6: a partner with a valid certificate exhausts the sequencer by opening
 * entry streams it never reads and cancelling them (or opening many at once). Real parts: the
 * real exchange endpoint over gRPC with mutual TLS and the generated client, streaming a log
 * large enough that flow control stops the server while the client does not read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { REASON_TRAILER } from '../../operator/src/exchange/protocol/grpcserver.ts';
import { channelCredentials, type PartnerEntry, type TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { HostileLog } from '../harness/hostile.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ENTRIES = 3000;
const PER_STREAM = 1000;
const partners: PartnerEntry[] = [{ partnerId: 'alpha', publicKey: SigningKey.generate().publicKey, roles: ['consumer'] }];

let ca: TestCa;
let server: ExchangeServer;
let client: InstanceType<ReturnType<typeof loadExchangePackage>['Exchange']>;
const tls = {} as Record<'alpha' | 'sequencer', TlsMaterial>;

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A stream the client never reads: the server stops on flow control once the client's buffers fill. */
function unread(): grpc.ClientReadableStream<unknown> {
  const stream = client.StreamEntries({ fromIndex: 0, treeSize: ENTRIES });
  stream.pause();
  stream.on('error', () => undefined);
  return stream;
}

before(async () => {
  ca = await createTestCa('threatmesh-attack-streams');
  for (const id of ['alpha', 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  const log = new HostileLog();
  const now = new Date().toISOString();
  for (let i = 0; i < ENTRIES; i++) log.append({ kind: 'add', indicator: { type: 'domain', value: `stream-${i}.example` }, proposerId: 'alpha', proposalSignature: 'x'.repeat(4000), window: { opensAt: now, closesAt: now }, votes: [] });
  server = await startExchangeServer({ sequencer: log, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { maxStreamsPerPartner: 4, maxEntriesPerStream: PER_STREAM } });
  const Exchange = loadExchangePackage().Exchange;
  client = new Exchange(`127.0.0.1:${server.port}`, channelCredentials(tls.alpha), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
});

after(async () => {
  client?.close();
  await server?.stop();
  await ca?.dispose();
});

describe('attack 6: entry streams a partner opens and abandons', () => {
  test('one stream sends a bounded number of entries; the partner asks again from its cursor', async () => {
    const seen = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const s = client.StreamEntries({ fromIndex: 0, treeSize: ENTRIES });
      s.on('data', () => { n += 1; });
      s.on('end', () => resolve(n));
      s.on('error', reject);
    });
    assert.equal(seen, PER_STREAM);
  });

  test('a cancelled stream the client never read ends its handler and frees its slot', async () => {
    const stream = unread();
    await until('the stream to be served', () => server.openStreams() === 1);
    stream.cancel();
    await until('the handler to end after the cancellation', () => server.openStreams() === 0);
  });

  test('one partner may hold only a bounded number of streams; the next is refused with RESOURCE_EXHAUSTED too-many-streams', async () => {
    const open = [unread(), unread(), unread(), unread()];
    await until('four streams', () => server.openStreams() === 4);
    const refused = await new Promise<grpc.ServiceError>((resolve) => {
      const fifth = client.StreamEntries({ fromIndex: 0, treeSize: ENTRIES });
      fifth.on('data', () => undefined);
      fifth.on('error', (err: grpc.ServiceError) => resolve(err));
    });
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(refused.metadata.get(REASON_TRAILER)[0], 'too-many-streams');
    for (const s of open) s.cancel();
    await until('every slot to be free', () => server.openStreams() === 0);
  });

  test('a client that disconnects without cancelling frees its streams too', async () => {
    const Exchange = loadExchangePackage().Exchange;
    const other = new Exchange(`127.0.0.1:${server.port}`, channelCredentials(tls.alpha), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
    const stream = other.StreamEntries({ fromIndex: 0, treeSize: ENTRIES });
    stream.pause();
    stream.on('error', () => undefined);
    await until('the stream to be served', () => server.openStreams() === 1);
    other.close();
    await until('the handler to end after the disconnect', () => server.openStreams() === 0);
  });
});
