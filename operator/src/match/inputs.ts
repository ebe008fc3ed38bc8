/**
 * From a LogScan's source to inputs: the planner's view (every input with its size and whether
 * it is compressed, without credentials) and the reader's (a LogLocation with credentials from
 * the Secret the source names). Credentials are read at run time and never stored in a plan.
 */
import type { LogScanSource, SecretKeyRef } from '../api/types.ts';
import type { Credentials } from '../feeds/fetch.ts';
import { sniffCompression } from './decompress.ts';
import { ScanError } from './errors.ts';
import type { InputFacts, PlannedInput } from './plan.ts';
import type { S3Config } from './s3.ts';
import { expand, openRaw, type LogLocation } from './source.ts';

/** Reads one Secret's data (decoded), or undefined when it does not exist. */
export type SecretReader = (ref: SecretKeyRef) => Promise<Readonly<Record<string, string>> | undefined>;

/** Credentials of a source, resolved once per worker. */
export interface SourceAccess {
  readonly s3?: S3Config | undefined;
  readonly http?: Credentials | undefined;
  /** Internal CIDRs http sources may reach (refused otherwise, as for feeds). */
  readonly allowInternal?: readonly string[] | undefined;
}

/** Where file sources are mounted in a scan pod (Job executor with spec.source.file.claimName). */
export const LOGS_MOUNT = '/logs';

async function secret(read: SecretReader, ref: SecretKeyRef, what: string): Promise<Readonly<Record<string, string>>> {
  const data = await read(ref);
  if (data === undefined) throw new ScanError('bad-config', `${what}: Secret ${ref.name} not found in the LogScan's namespace; create it`);
  return data;
}

/** Resolves the credentials the source needs. */
export async function accessOf(source: LogScanSource, read: SecretReader): Promise<SourceAccess> {
  if (source.s3 !== undefined) {
    const d = await secret(read, source.s3.secretRef, 'spec.source.s3.secretRef');
    const accessKeyId = d['accessKeyId'];
    const secretAccessKey = d['secretAccessKey'];
    if (accessKeyId === undefined || secretAccessKey === undefined) throw new ScanError('bad-config', `Secret ${source.s3.secretRef.name} needs keys accessKeyId and secretAccessKey`);
    return { s3: { endpoint: source.s3.endpoint, region: source.s3.region, accessKeyId, secretAccessKey, sessionToken: d['sessionToken'] } };
  }
  if (source.http?.secretRef !== undefined) {
    const d = await secret(read, source.http.secretRef, 'spec.source.http.secretRef');
    const token = d['token'];
    const username = d['username'];
    if (token !== undefined) return { http: { kind: 'bearer', token } };
    if (username !== undefined) return { http: { kind: 'basic', username, password: d['password'] ?? '' } };
    throw new ScanError('bad-config', `Secret ${source.http.secretRef.name} needs a token, or username and password`);
  }
  return {};
}

/** The reader's location of a planned input. `root` prefixes file paths (the volume mount of a scan pod). */
export function locationOf(input: PlannedInput, access: SourceAccess, root = ''): LogLocation {
  if (input.kind === 'file') return { kind: 'file', path: `${root}${input.path}` };
  if (input.kind === 'http') return { kind: 'http', url: input.url, credentials: access.http, allowInternal: access.allowInternal };
  if (access.s3 === undefined) throw new ScanError('bad-config', 'an s3 input without object-store credentials');
  return { kind: 's3', s3: access.s3, bucket: input.bucket, key: input.key };
}

function planned(loc: LogLocation): PlannedInput {
  if (loc.kind === 'file') return { kind: 'file', path: loc.path };
  if (loc.kind === 'http') return { kind: 'http', url: loc.url };
  return { kind: 's3', bucket: loc.bucket, key: loc.key };
}

async function isCompressed(loc: LogLocation): Promise<boolean> {
  for await (const c of openRaw(loc, { start: 0, end: 4 })) return sniffCompression(c) !== 'none';
  return false;
}

/** The planner's facts of every input of `source` (lists directories and S3 prefixes, sniffs compression). */
export async function inputFacts(source: LogScanSource, access: SourceAccess): Promise<InputFacts[]> {
  let root: LogLocation;
  let prefix: string | undefined;
  if (source.file !== undefined) root = { kind: 'file', path: source.file.path };
  else if (source.http !== undefined) root = { kind: 'http', url: source.http.url, credentials: access.http };
  else if (source.s3 !== undefined && access.s3 !== undefined) {
    root = { kind: 's3', s3: access.s3, bucket: source.s3.bucket, key: source.s3.key ?? '' };
    prefix = source.s3.prefix;
  } else throw new ScanError('bad-config', 'the LogScan names no source');
  const found = await expand(root, prefix);
  const out: InputFacts[] = [];
  // An HTTP input's size is unknown here: it is one shard, read whole (and may be compressed).
  for (const f of found) out.push({ input: planned(f.loc), size: f.size, compressed: f.loc.kind === 'http' ? true : await isCompressed(f.loc) });
  return out;
}
