/**
 * A sample TLP:GREEN consumer for local networks (the sandbox): a fresh random bearer token,
 * a serve config that knows only its hash, and the `{url, token, ca}` a person or a TAXII
 * client needs to connect. The token is printed once and never stored in the config.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tokenHash } from './config.ts';
import { DISCOVERY_PATH } from './taxii.ts';

/** A provisioned sample consumer. */
export interface SampleConsumer {
  /** The consumer's name in the config. */
  readonly name: string;
  /** The bearer token (only here: the config holds its SHA-256). */
  readonly token: string;
  /** The serve config file written (pass it to `threatmesh serve --config`). */
  readonly configPath: string;
}

/** What the sandbox shows for one partner's TAXII server. */
export interface TaxiiAccess {
  /** The discovery URL. */
  readonly url: string;
  readonly token: string;
  /** The CA file that verifies the server certificate. */
  readonly ca: string;
}

/**
 * Writes `<dir>/serve.yaml` with one consumer `name` (TLP:GREEN, read only) authenticated by a
 * new 256-bit token, and returns the token.
 */
export async function provisionSampleConsumer(dir: string, name = 'sample-green'): Promise<SampleConsumer> {
  const token = randomBytes(32).toString('hex');
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'serve.yaml');
  const config = { title: 'ThreatMesh sandbox', consumers: [{ name, maxTlp: 'green', roles: ['consumer'], tokens: [{ sha256: tokenHash(token) }] }] };
  await writeFile(configPath, `# written by the sandbox: one TLP:GREEN consumer; the token is shown once by the sandbox\n${stringify(config)}`, { mode: 0o600 });
  return { name, token, configPath };
}

/** The `{url, token, ca}` of a server listening on `host:port` whose certificate `caPath` verifies. */
export function taxiiAccess(host: string, port: number, consumer: SampleConsumer, caPath: string): TaxiiAccess {
  return { url: `https://${host.includes(':') ? `[${host}]` : host}:${port}${DISCOVERY_PATH}`, token: consumer.token, ca: caPath };
}
