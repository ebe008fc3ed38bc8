/**
 * Trust model, suspicion "identity is the certificate CN only, with no revocation checking;
 * adding a peer's self-signed certificate to the CA bundle may let it mint certificates for any
 * partner id". What holds (docs/trust-model.md "Identity"): a self-signed leaf in the bundle
 * vouches for itself only; a CA in the bundle vouches for every partner id, so only network CAs
 * belong there and a partner with a certificate from elsewhere is pinned; a CA's revocation list
 * refuses the certificates it names, both ways. Real parts: the real exchange endpoint and client
 * over gRPC with mutual TLS, certificates and CRLs made by openssl.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient, ExchangeCallError } from '../../operator/src/exchange/protocol/client.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { HostileLog } from '../harness/hostile.ts';
import { createRogueIssuer, createTestCa, type IssuedCert, type RogueIssuer, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ids = ['alpha', 'bravo', 'mallory'] as const;
const closers: Array<() => Promise<void> | void> = [];
let ca: TestCa;
let rogueLeaf: RogueIssuer;
let rogueCa: RogueIssuer;
const certs = {} as Record<(typeof ids)[number] | 'sequencer', IssuedCert>;

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** A sequencer endpoint trusting `caPem` (and `crlPem`), its directory pinning what `pins` says. */
async function sequencer(caPem: string, opts: { crlPem?: string; pins?: Partial<Record<string, string>> } = {}): Promise<ExchangeServer> {
  const directory = new Map<string, PartnerEntry>(ids.map((id) => [id, { partnerId: id, publicKey: SigningKey.generate().publicKey, roles: ['voter'], ...(opts.pins?.[id] !== undefined ? { certFingerprint256: opts.pins[id] } : {}) }]));
  const tls: TlsMaterial = { caPem, ...certs.sequencer, ...(opts.crlPem !== undefined ? { crlPem: opts.crlPem } : {}) };
  const server = await startExchangeServer({ sequencer: new HostileLog(), directory, tls, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  return server;
}

/** Asks `server` for its tree head as the holder of `cert`, trusting `caPem` (and `crlPem`). */
async function ask(server: ExchangeServer, cert: IssuedCert, caPem = ca.caPem, crlPem?: string): Promise<unknown> {
  const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: { caPem, ...cert, ...(crlPem !== undefined ? { crlPem } : {}) }, serverName: 'localhost', deadlineMs: 5_000, retry: { attempts: 1 } });
  try {
    return await client.treeHead(0, 0);
  } finally {
    client.close();
  }
}

const refusedAtHandshake = (err: unknown): boolean => err instanceof ExchangeCallError && err.code === grpc.status.UNAVAILABLE;
const refusedAs = (reason: string) => (err: unknown): boolean => err instanceof ExchangeCallError && err.reason === reason;

before(async () => {
  ca = await createTestCa('threatmesh-attack-pki');
  for (const id of [...ids, 'sequencer'] as const) certs[id] = await ca.issue(id);
  rogueLeaf = await createRogueIssuer('mallory', false);
  rogueCa = await createRogueIssuer('mallory-ca', true);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await rogueLeaf?.dispose();
  await rogueCa?.dispose();
  await ca?.dispose();
});

describe('a partner\'s self-signed certificate added to the CA bundle', () => {
  test('vouches for itself only: a certificate for alpha signed with its key fails the handshake', async () => {
    const server = await sequencer(ca.caPem + rogueLeaf.certPem);
    assert.ok(await ask(server, rogueLeaf), 'mallory\'s own self-signed certificate identifies mallory');
    await assert.rejects(ask(server, await rogueLeaf.mint('alpha')), refusedAtHandshake);
    assert.ok(await ask(server, certs.alpha), 'the real alpha is not affected');
  });
});

describe('a CA added to the bundle vouches for every partner id: pins are the defence', () => {
  test('without a pin, a certificate it issues for alpha is taken as alpha; with alpha pinned it is refused (pinned-certificate-mismatch)', async () => {
    const forged = await rogueCa.mint('alpha');
    const open = await sequencer(ca.caPem + rogueCa.certPem);
    assert.ok(await ask(open, forged), 'this is why only network CAs belong in the bundle (docs/trust-model.md)');
    const pinned = await sequencer(ca.caPem + rogueCa.certPem, { pins: { alpha: fingerprint(certs.alpha.certPem) } });
    await assert.rejects(ask(pinned, forged), refusedAs('pinned-certificate-mismatch'));
    assert.ok(await ask(pinned, certs.alpha));
  });
});

describe('certificate revocation lists', () => {
  test('the sequencer with the CA\'s CRL refuses a revoked partner certificate at the handshake; others are served', async () => {
    const server = await sequencer(ca.caPem, { crlPem: await ca.revocationList([certs.bravo]) });
    await assert.rejects(ask(server, certs.bravo), refusedAtHandshake);
    assert.ok(await ask(server, certs.alpha));
  });

  test('a partner with the CA\'s CRL refuses a sequencer whose certificate is revoked', async () => {
    const server = await sequencer(ca.caPem);
    const crl = await ca.revocationList([certs.sequencer]);
    await assert.rejects(ask(server, certs.alpha, ca.caPem, crl), refusedAtHandshake);
    assert.ok(await ask(server, certs.alpha, ca.caPem, await ca.revocationList([])), 'an empty CRL refuses nothing');
  });
});
