/**
 * A throwaway certificate authority for exchange tests: the local network's CA of the sandbox
 * (operator/src/dev/sandbox/pki.ts, openssl) in a temporary directory, valid one day, issuing a
 * fresh certificate on every call. Leaves have subject CN = the partner id, SAN IP:127.0.0.1 and
 * DNS:localhost, and the extended key usage of their role. Product code only loads the PEMs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCa, readTlsMaterial, type CertUse } from '../../operator/src/dev/sandbox/pki.ts';

const run = promisify(execFile);

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
  /** A CRL (PEM) of this CA listing `revoked`. */
  revocationList(revoked: readonly IssuedCert[]): Promise<string>;
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
    revocationList: (revoked) => ca.revocationList(revoked.map((r) => r.certPem)),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A self-signed certificate someone outside the network made, and the leaves its key signs. */
export interface RogueIssuer extends IssuedCert {
  /** A leaf with subject CN=`cn` (any partner id) signed by the rogue key, for client and server use. */
  mint(cn: string): Promise<IssuedCert>;
  dispose(): Promise<void>;
}

/**
 * A self-signed certificate with subject CN=`cn`: `ca` false makes it a leaf (basicConstraints
 * CA:FALSE, as a partner's self-signed certificate is), true a CA of its own.
 */
export async function createRogueIssuer(cn: string, ca: boolean): Promise<RogueIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-rogue-'));
  const key = join(dir, 'rogue.key');
  const cert = join(dir, 'rogue.pem');
  const ext = ca ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature']
    : ['-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-addext', 'extendedKeyUsage=serverAuth,clientAuth', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, ...ext, '-keyout', key, '-out', cert]);
  let n = 0;
  return {
    certPem: await readFile(cert, 'utf8'),
    keyPem: await readFile(key, 'utf8'),
    mint: async (leaf) => {
      n += 1;
      const base = join(dir, `${leaf}-${n}`);
      await writeFile(`${base}.ext`, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
      await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${leaf}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
      await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', cert, '-CAkey', key, '-set_serial', String(1000 + n), '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`]);
      return { certPem: await readFile(`${base}.pem`, 'utf8'), keyPem: await readFile(`${base}.key`, 'utf8') };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
