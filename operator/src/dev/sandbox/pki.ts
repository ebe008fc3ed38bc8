/**
 * The local network's certificate authority, made with the openssl CLI (Node can verify X.509
 * but not issue it): a CA and, per party, a certificate whose subject CN is the party id, for
 * mutual TLS on loopback (SAN IP:127.0.0.1 and DNS:localhost, extended key usage serverAuth and
 * clientAuth). Everything lives under one directory, keys mode 0600, and is reused when present
 * so a restarted sandbox keeps its identities.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of one party's PEM files. */
export interface PartyFiles {
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** What a certificate is for (its extendedKeyUsage); both for partners, which serve gossip and call the sequencer; `none` leaves the extension out (tests of refusals). */
export type CertUse = 'server' | 'client' | 'both' | 'none';

const EKU: Readonly<Record<CertUse, string | undefined>> = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth', none: undefined };

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', [...args]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to issue the local network\'s certificates; install it (Debian: apt-get install openssl)', { cause: err });
    throw new Error(`openssl ${args[0] ?? ''} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** A CA under `dir` (created on first use, valid `days`). */
export class LocalCa {
  readonly #dir: string;
  readonly #days: number;

  private constructor(dir: string, days: number) {
    this.#dir = dir;
    this.#days = days;
  }

  /** Opens the CA in `dir`, creating its key (0600) and self-signed certificate named `name` when missing. */
  static async open(dir: string, name: string, days = 30): Promise<LocalCa> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ca = new LocalCa(dir, days);
    if (!(await exists(ca.caPath))) {
      await openssl([
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days), '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', join(dir, 'ca.key'), '-out', ca.caPath,
      ]);
      await chmod(join(dir, 'ca.key'), 0o600);
    }
    return ca;
  }

  /** The CA certificate (PEM file). */
  get caPath(): string {
    return join(this.#dir, 'ca.pem');
  }

  /**
   * Issues (or reuses) the certificate of party `cn`; `cn` must be a DNS label, as partner ids are.
   * `copy` names another certificate of the same party and use (a second one, not a reuse).
   * `sans` adds subject alternative names (`IP:192.0.2.1`, `DNS:host.example`) to the loopback ones,
   * for parties reached at other addresses (the kind target's node addresses).
   */
  async issue(cn: string, use: CertUse = 'both', copy = '', sans: readonly string[] = []): Promise<PartyFiles> {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(cn)) throw new Error(`certificate name ${JSON.stringify(cn)} must be a lower-case DNS label, like partner ids`);
    const bad = sans.filter((s) => !/^(IP:[0-9a-fA-F.:]+|DNS:[a-z0-9*]([-a-z0-9.]*[a-z0-9])?)$/.test(s));
    if (bad.length > 0) throw new Error(`subject alternative names ${JSON.stringify(bad)} must look like IP:192.0.2.1 or DNS:host.example`);
    const base = join(this.#dir, `${cn}-${use}${copy === '' ? '' : `-${copy}`}`);
    const files = { caPath: this.caPath, certPath: `${base}.pem`, keyPath: `${base}.key` };
    if (await exists(files.certPath) && await exists(files.keyPath)) return files;
    const ext = `${base}.ext`;
    const eku = EKU[use];
    await writeFile(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${eku !== undefined ? `extendedKeyUsage=${eku}\n` : ''}subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...sans].join(',')}\n`);
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', files.keyPath, '-out', `${base}.csr`]);
    await chmod(files.keyPath, 0o600);
    const serial = BigInt(`0x${randomBytes(8).toString('hex')}`).toString();
    await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', this.caPath, '-CAkey', join(this.#dir, 'ca.key'), '-set_serial', serial, '-days', String(this.#days), '-extfile', ext, '-out', files.certPath]);
    return files;
  }

  /** A certificate revocation list (PEM, valid one day) signed by this CA, listing `revoked` (PEM certificates it issued). */
  async revocationList(revoked: readonly string[]): Promise<string> {
    const dir = join(this.#dir, `crl-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const now = asn1Time(new Date());
    const index = revoked.map((pem) => {
      const c = new X509Certificate(pem);
      return `R\t${asn1Time(new Date(c.validTo))}\t${now}\t${c.serialNumber}\tunknown\t/${c.subject.split('\n').join('/')}\n`;
    }).join('');
    await writeFile(join(dir, 'index.txt'), index);
    await writeFile(join(dir, 'crlnumber'), '01\n');
    await writeFile(join(dir, 'ca.cnf'), `[ca]\ndefault_ca = local\n[local]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 1\n`);
    const out = join(dir, 'crl.pem');
    await openssl(['ca', '-gencrl', '-config', join(dir, 'ca.cnf'), '-keyfile', join(this.#dir, 'ca.key'), '-cert', this.caPath, '-out', out]);
    return readFile(out, 'utf8');
  }
}

/** `2026-12-06T12:00:00Z` → `261206120000Z`, the time form of openssl's CA database. */
function asn1Time(d: Date): string {
  return `${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`;
}

/** Reads a party's PEM files into the material the exchange's TLS functions take. */
export async function readTlsMaterial(files: PartyFiles): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const [caPem, certPem, keyPem] = await Promise.all([readFile(files.caPath, 'utf8'), readFile(files.certPath, 'utf8'), readFile(files.keyPath, 'utf8')]);
  return { caPem, certPem, keyPem };
}
