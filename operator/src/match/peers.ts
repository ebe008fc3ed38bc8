/**
 * The peers a partner pushes its sightings to (`threatmesh operator --sightings-peers FILE`):
 *
 * ```yaml
 * peers:
 *   - name: partner-b                       # how logs and metrics name it
 *     url: https://partner-b.example:8443   # its `threatmesh serve`
 *     ca: /etc/threatmesh/peers/ca.pem      # optional: CA of its server certificate
 *     cert: /etc/threatmesh/peers/tls.crt   # our mTLS client certificate there …
 *     key: /etc/threatmesh/peers/tls.key
 *     tokenFile: /etc/threatmesh/peers/b    # … or a bearer token instead
 * ```
 *
 * Each peer lists this partner as a `sighter` consumer with its sighting key (the partner's
 * Ed25519 public key) in its serve config. Validation names the field at fault.
 */
import { parse as parseYaml } from 'yaml';
import { endpointOf, type SightingEndpoint } from './sightingclient.ts';

/** One configured peer, its files not read yet. */
export interface PeerConfig {
  readonly name: string;
  readonly url: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly tokenFile?: string;
}

const FIELDS = new Set(['name', 'url', 'ca', 'cert', 'key', 'tokenFile']);

function fail(field: string, message: string): never {
  throw new Error(`sightings peers: ${field}: ${message}`);
}

function optionalPath(o: Record<string, unknown>, field: string, at: string): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') fail(`${at}.${field}`, 'must be a file path');
  return v;
}

function checkName(name: unknown, at: string, seen: Set<string>): string {
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) fail(`${at}.name`, 'must be a lower-case DNS label, like partner ids');
  if (seen.has(name)) fail(`${at}.name`, `${name} is listed twice`);
  seen.add(name);
  return name;
}

function checkUrl(url: unknown, at: string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'https:') fail(`${at}.url`, 'must be the peer\'s https://HOST:PORT (sightings travel over TLS only)');
  return url as string;
}

function peer(v: unknown, at: string, seen: Set<string>): PeerConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'must be a mapping with name and url');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) fail(`${at}.${k}`, `unknown field; expected one of ${[...FIELDS].join(', ')}`);
  const name = checkName(o.name, at, seen);
  const url = checkUrl(o.url, at);
  const paths = { ca: optionalPath(o, 'ca', at), cert: optionalPath(o, 'cert', at), key: optionalPath(o, 'key', at), tokenFile: optionalPath(o, 'tokenFile', at) };
  if ((paths.cert === undefined) !== (paths.key === undefined)) fail(`${at}.cert`, 'cert and key go together (our mTLS client certificate at the peer)');
  if (paths.cert === undefined && paths.tokenFile === undefined) fail(at, 'give cert and key, or tokenFile: the peer authenticates us as a sighter consumer');
  return { name, url, ...Object.fromEntries(Object.entries(paths).filter(([, p]) => p !== undefined)) };
}

/** Parses and validates a peers file (YAML or JSON); throws an Error naming the field. */
export function parsePeers(text: string): PeerConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    fail('(document)', `not valid YAML or JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { peers?: unknown }).peers)) fail('peers', 'the file must hold {peers: [{name, url, cert and key or tokenFile}]}');
  const seen = new Set<string>();
  return ((doc as { peers: unknown[] }).peers).map((p, i) => peer(p, `peers[${i}]`, seen));
}

/** Reads a peer's files into its endpoint; a file that cannot be read names its field. */
export async function peerEndpoint(p: PeerConfig, read: (path: string) => Promise<string>): Promise<SightingEndpoint> {
  const load = async (field: string, path: string | undefined): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await read(path);
    } catch (err) {
      return fail(`${p.name}.${field}`, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const [ca, cert, key, token] = await Promise.all([load('ca', p.ca), load('cert', p.cert), load('key', p.key), load('tokenFile', p.tokenFile)]);
  return endpointOf(new URL(p.url), { ca, cert, key, token });
}
