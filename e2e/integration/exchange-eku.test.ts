/**
 * Extended key usage on the exchange's mutual TLS, over real gRPC on 127.0.0.1 with certificates
 * from a CA made at run time and a sequencer on real FerretDB: a partner certificate (serverAuth
 * and clientAuth) reaches a sequencer whose certificate is serverAuth only; a client certificate
 * without clientAuth is refused (without the extension: by the exchange with reason
 * not-a-client-certificate; with serverAuth only: by the TLS handshake), and the client refuses a
 * server certificate without serverAuth.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { MongoClient, type Db } from 'mongodb';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { ExchangeCallError, ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { createLogger } from '../../operator/src/log.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { createTestCa, type CertUsage, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const alphaKey = SigningKey.generate();
const directory: PartnerEntry[] = [{ partnerId: 'alpha', publicKey: alphaKey.publicKey, roles: ['contributor', 'voter'] }];
const closers: Array<() => Promise<void> | void> = [];

let cp: ControlPlane;
let mongo: MongoClient;
let ca: TestCa;
let seq: Sequencer;
let db: Db;

async function material(cn: string, usage: CertUsage): Promise<TlsMaterial> {
  return { caPem: ca.caPem, ...(await ca.issue(cn, usage)) };
}

async function server(usage: CertUsage): Promise<ExchangeServer> {
  const s = await startExchangeServer({ sequencer: seq, directory: new Map(directory.map((p) => [p.partnerId, p])), tls: await material('sequencer', usage), address: '127.0.0.1:0', log: quiet });
  closers.push(() => s.stop());
  return s;
}

function client(port: number, tls: TlsMaterial): ExchangeClient {
  const c = new ExchangeClient({ address: `127.0.0.1:${port}`, tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1 } });
  closers.push(() => c.close());
  return c;
}

/** alpha's proposal of `value`: a call that needs the contributor role, so it only passes with alpha's identity. */
function propose(c: ExchangeClient, value: string): Promise<unknown> {
  const i: Indicator = { type: 'domain', value };
  return c.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(alphaKey, 'add', i) });
}

async function refusal(p: Promise<unknown>): Promise<ExchangeCallError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ExchangeCallError, `expected an ExchangeCallError, got ${String(err)}`);
  return err;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_eku_${suffix}`);
  ca = await createTestCa('threatmesh-eku');
  seq = await Sequencer.open({ store: await MongoLogStore.open(db), key: SigningKey.generate(), partners: directory, quorum: 1, now: () => new Date(), log: quiet });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await ca?.dispose();
  await cp?.stop();
});

describe('extended key usage on the exchange', () => {
  let serverOnly: ExchangeServer;
  before(async () => {
    serverOnly = await server('server');
  });

  test('a partner certificate (serverAuth, clientAuth) is accepted by a sequencer with a serverAuth certificate; so is a clientAuth-only one', async () => {
    for (const usage of ['both', 'client'] as const) {
      const ack = await propose(client(serverOnly.port, await material('alpha', usage)), `eku-${usage}.example`) as { status: string };
      assert.equal(ack.status, 'opened', usage);
    }
    assert.deepEqual(seq.pending().map((p) => p.indicator.value).sort(), ['eku-both.example', 'eku-client.example']);
  });

  test('a client certificate without any extended key usage is refused by the exchange with the reason and what to do', async () => {
    const err = await refusal(propose(client(serverOnly.port, await material('alpha', 'none')), 'eku-none.example'));
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.equal(err.reason, 'not-a-client-certificate');
    assert.match(err.message, /refusing the client certificate: the certificate of alpha has no extended key usage, not clientAuth \(1\.3\.6\.1\.5\.5\.7\.3\.2\); issue it with extendedKeyUsage=clientAuth/);
  });

  test('a client certificate for serverAuth only is refused at the TLS handshake', async () => {
    const err = await refusal(propose(client(serverOnly.port, await material('alpha', 'server')), 'eku-server.example'));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.equal(seq.pending().some((p) => p.indicator.value === 'eku-server.example'), false);
  });

  const badServers: Array<[CertUsage, RegExp]> = [
    ['none', /refusing the exchange server: the certificate of sequencer has no extended key usage, not serverAuth \(1\.3\.6\.1\.5\.5\.7\.3\.1\)/],
    ['client', /unsuitable certificate purpose/],
  ];
  for (const [usage, message] of badServers) {
    test(`the client refuses a server certificate with ${usage === 'none' ? 'no extended key usage' : 'clientAuth only'}`, async () => {
      const s = await server(usage);
      const err = await refusal(propose(client(s.port, await material('alpha', 'both')), `eku-server-${usage}.example`));
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.message, message);
      assert.equal(seq.pending().some((p) => p.indicator.value === `eku-server-${usage}.example`), false);
    });
  }
});
