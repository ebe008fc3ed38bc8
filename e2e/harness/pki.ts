/**
 * A throwaway certificate authority for exchange tests, made at run time with the openssl CLI:
 * a CA and leaf certificates whose subject CN is the partner id (SAN IP:127.0.0.1 and
 * DNS:localhost), with the extended key usage of their role: serverAuth for servers (the
 * sequencer), clientAuth for clients, both for partners that dial and serve (gossip). Product
 * code only loads the PEMs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate and its private key. */
export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a leaf certificate is for: its extendedKeyUsage (`none` leaves the extension out, for tests of refusals). */
export type CertUsage = 'server' | 'client' | 'both' | 'none';

const EKU: Readonly<Record<CertUsage, string | undefined>> = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth', none: undefined };

/** A test CA: its certificate and a way to issue leaves. */
export interface TestCa {
  readonly caPem: string;
  /** Issues a P-256 certificate with subject CN=`cn`, valid one day, on loopback, for `usage` (default both: a partner). */
  issue(cn: string, usage?: CertUsage): Promise<IssuedCert>;
  /** Removes the CA's key and working files. */
  dispose(): Promise<void>;
}

/** Creates a fresh CA named `name`. */
export async function createTestCa(name: string): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-pki-'));
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', caKey, '-out', caCert,
  ]);
  for (const [usage, eku] of Object.entries(EKU)) {
    await writeFile(join(dir, `${usage}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${eku ? `extendedKeyUsage=${eku}\n` : ''}subjectAltName=IP:127.0.0.1,DNS:localhost\n`);
  }
  let serial = 1;
  return {
    caPem: await readFile(caCert, 'utf8'),
    issue: async (cn, usage = 'both') => {
      const base = join(dir, `leaf-${serial}`);
      const ext = join(dir, `${usage}.ext`);
      serial += 1;
      await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
      await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(serial), '-days', '1', '-extfile', ext, '-out', `${base}.pem`]);
      return { certPem: await readFile(`${base}.pem`, 'utf8'), keyPem: await readFile(`${base}.key`, 'utf8') };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
