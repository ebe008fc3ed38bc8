/**
 * A throwaway certificate authority for exchange tests: the local network's CA of the sandbox
 * (operator/src/dev/sandbox/pki.ts, openssl) in a temporary directory, valid one day, issuing a
 * fresh certificate on every call. Leaves have subject CN = the partner id, SAN IP:127.0.0.1 and
 * DNS:localhost, and the extended key usage of their role. Product code only loads the PEMs.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCa, readTlsMaterial, type CertUse } from '../../operator/src/dev/sandbox/pki.ts';

/** A PEM certificate and its private key. */
export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a leaf certificate is for: its extendedKeyUsage (`none` leaves the extension out, for tests of refusals). */
export type CertUsage = CertUse;

/** A test CA: its certificate and a way to issue leaves. */
export interface TestCa {
  readonly caPem: string;
  /** Issues a new P-256 certificate with subject CN=`cn`, valid one day, on loopback, for `usage` (default both: a partner). */
  issue(cn: string, usage?: CertUsage): Promise<IssuedCert>;
  /** Removes the CA's key and working files. */
  dispose(): Promise<void>;
}

/** Creates a fresh CA named `name`. */
export async function createTestCa(name: string): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-pki-'));
  const ca = await LocalCa.open(dir, name, 1);
  let serial = 0;
  return {
    caPem: await readFile(ca.caPath, 'utf8'),
    issue: async (cn, usage = 'both') => {
      serial += 1;
      const { certPem, keyPem } = await readTlsMaterial(await ca.issue(cn, usage, String(serial)));
      return { certPem, keyPem };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
