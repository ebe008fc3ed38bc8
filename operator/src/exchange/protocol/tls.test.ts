import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { ExchangeRefusal } from './errors.ts';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, keyUsageProblem, peerIdentity } from './tls.ts';

const cert = (ext: string[] | undefined): PeerCertificate => ({ subject: { CN: 'alpha' }, fingerprint256: 'AA:BB', ...(ext ? { ext_key_usage: ext } : {}) }) as unknown as PeerCertificate;

describe('extended key usage', () => {
  const table: Array<[string, string[] | undefined, 'clientAuth' | 'serverAuth', RegExp | undefined]> = [
    ['clientAuth for a client', [EKU_CLIENT_AUTH], 'clientAuth', undefined],
    ['both for a client', [EKU_SERVER_AUTH, EKU_CLIENT_AUTH], 'clientAuth', undefined],
    ['both for a server', [EKU_SERVER_AUTH, EKU_CLIENT_AUTH], 'serverAuth', undefined],
    ['serverAuth only for a client', [EKU_SERVER_AUTH], 'clientAuth', /alpha has extended key usage 1\.3\.6\.1\.5\.5\.7\.3\.1, not clientAuth \(1\.3\.6\.1\.5\.5\.7\.3\.2\); issue it with extendedKeyUsage=clientAuth/],
    ['clientAuth only for a server', [EKU_CLIENT_AUTH], 'serverAuth', /not serverAuth \(1\.3\.6\.1\.5\.5\.7\.3\.1\); issue it with extendedKeyUsage=serverAuth$/],
    ['no extension for a client', undefined, 'clientAuth', /alpha has no extended key usage, not clientAuth/],
    ['no extension for a server', undefined, 'serverAuth', /alpha has no extended key usage, not serverAuth/],
  ];
  for (const [name, ext, purpose, want] of table) {
    test(name, () => {
      const problem = keyUsageProblem(cert(ext), purpose);
      if (want === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', want);
    });
  }

  test('peerIdentity refuses a client certificate without clientAuth before reading its CN', () => {
    assert.throws(() => peerIdentity({ sslPeerCertificate: cert([EKU_SERVER_AUTH]) }), (err: unknown) => err instanceof ExchangeRefusal && err.reason === 'not-a-client-certificate' && err.code === 'unauthenticated');
    assert.deepEqual(peerIdentity({ sslPeerCertificate: cert([EKU_CLIENT_AUTH]) }), { partnerId: 'alpha', fingerprint256: 'AA:BB' });
  });
});
