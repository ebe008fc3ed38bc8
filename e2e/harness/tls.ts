/** Run-time TLS material for servers that tests start (webhooks): a self-signed certificate from openssl. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A PEM certificate valid for 127.0.0.1 and its key; the certificate is its own CA. */
export interface ServingCert {
  readonly cert: string;
  readonly key: string;
}

/** Generates a fresh P-256 self-signed certificate for IP 127.0.0.1, valid one day. */
export async function selfSignedLoopbackCert(): Promise<ServingCert> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-tls-'));
  try {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    return { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
