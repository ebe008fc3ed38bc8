import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { ExchangeRefusal } from './errors.ts';
import { ConnectionIdentities, type CallWithPeer } from './peers.ts';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A certificate as Node reports it: only what tls.ts peerIdentity reads. */
function cert(cn: string, eku = [CLIENT_AUTH]): PeerCertificate {
  return { subject: { CN: cn }, ext_key_usage: eku, fingerprint256: `FP:${cn}` } as unknown as PeerCertificate;
}

/** A call shaped as grpc-js 1.14 builds it (call.call.stream.session), counting certificate reads. */
function callOn(session: object | undefined, peer: PeerCertificate | undefined, reads: { n: number }): CallWithPeer {
  return {
    call: { stream: { session } },
    getAuthContext: () => {
      reads.n += 1;
      return peer === undefined ? {} : { sslPeerCertificate: peer };
    },
  } as CallWithPeer;
}

const open = (): { destroyed: boolean; closed: boolean } => ({ destroyed: false, closed: false });

describe('ConnectionIdentities', () => {
  test('one certificate read per connection; each connection keeps its own identity', () => {
    const ids = new ConnectionIdentities();
    const reads = { n: 0 };
    const [a, b] = [open(), open()];
    for (let i = 0; i < 3; i++) {
      assert.equal(ids.of(callOn(a, cert('alpha'), reads)).partnerId, 'alpha');
      assert.equal(ids.of(callOn(b, cert('bravo'), reads)).partnerId, 'bravo');
    }
    assert.equal(reads.n, 2);
    assert.deepEqual(ids.stats(), { read: 2, reused: 4 });
  });

  // [name, session of the call]: the certificate is read on every call.
  const uncached: ReadonlyArray<[string, object | undefined]> = [
    ['no session found (another grpc-js layout)', undefined],
    ['a destroyed session', { destroyed: true, closed: false }],
    ['a closed session', { destroyed: false, closed: true }],
    ['a session without state', {}],
  ];
  for (const [name, session] of uncached) {
    test(`${name}: read on every call`, () => {
      const ids = new ConnectionIdentities();
      const reads = { n: 0 };
      for (let i = 0; i < 3; i++) assert.equal(ids.of(callOn(session, cert('alpha'), reads)).partnerId, 'alpha');
      assert.equal(reads.n, 3);
    });
  }

  // [name, certificate, reason]: refused on every call, never remembered.
  const refused: ReadonlyArray<[string, PeerCertificate | undefined, string]> = [
    ['no client certificate', undefined, 'no-client-certificate'],
    ['a server-only certificate', cert('alpha', ['1.3.6.1.5.5.7.3.1']), 'not-a-client-certificate'],
    ['no CN', cert(''), 'no-client-certificate'],
  ];
  for (const [name, peer, reason] of refused) {
    test(`${name}: refused (${reason}) on every call of the connection`, () => {
      const ids = new ConnectionIdentities();
      const reads = { n: 0 };
      const s = open();
      for (let i = 0; i < 2; i++) assert.throws(() => ids.of(callOn(s, peer, reads)), (e: unknown) => e instanceof ExchangeRefusal && e.reason === reason);
      assert.equal(reads.n, 2);
      assert.deepEqual(ids.stats(), { read: 0, reused: 0 });
    });
  }
});
