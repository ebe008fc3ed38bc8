/**
 * The configuration file of `threatmesh serve` (YAML or JSON; docs/serve.md): who may read and
 * write, each consumer with a maximum TLP and roles, authenticated by bearer tokens (kept only
 * as SHA-256 hashes: given as hashes, or read from files mounted from a Secret and hashed at
 * load) or by mTLS client certificates (subject CN or SHA-256 fingerprint). Validation is strict
 * and every error names the field and what to write instead.
 */
import { hash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { TLP_LEVELS, isTlp, tlpsUpTo, type Tlp } from './tlp.ts';

/**
 * What a consumer may do: `consumer` reads, `contributor` may also POST proposals, `sighter` (a
 * peer partner or an edge site) may POST signed sighting reports made under its own name.
 */
export type ServeRole = 'consumer' | 'contributor' | 'sighter';

const ROLES: readonly ServeRole[] = ['consumer', 'contributor', 'sighter'];

/** One authenticated party. */
export interface Consumer {
  readonly name: string;
  readonly maxTlp: Tlp;
  /** The TLP levels it may receive (clear .. maxTlp). */
  readonly tlps: readonly Tlp[];
  readonly roles: ReadonlySet<ServeRole>;
  /** A sighter's Ed25519 public key (32 raw bytes, base64): its reports must be signed by it and made under its name. */
  readonly sightingKey?: string;
}

/** A token given by hash or by a file to hash. */
export type TokenSource = { readonly sha256: string } | { readonly file: string };

/** A client certificate given by subject CN or SHA-256 fingerprint. */
export type CertificateMatch = { readonly subject: string } | { readonly sha256: string };

/** One consumer as written in the file. */
export interface ConsumerSpec {
  readonly name: string;
  readonly maxTlp: Tlp;
  readonly roles: readonly ServeRole[];
  readonly tokens: readonly TokenSource[];
  readonly certificates: readonly CertificateMatch[];
  readonly sightingKey?: string;
}

/** The validated file, token files not read yet. */
export interface ServeConfigSpec {
  /** Title of the TAXII discovery resource. @default "ThreatMesh" */
  readonly title: string;
  /** Largest TAXII page. @default 1000 */
  readonly maxPageSize: number;
  /** Largest accepted request body in bytes (TAXII max_content_length). @default 10485760 */
  readonly maxContentLength: number;
  readonly consumers: readonly ConsumerSpec[];
}

/** The loaded configuration: lookups by token hash, certificate fingerprint and subject. */
export interface ServeConfig extends Omit<ServeConfigSpec, 'consumers'> {
  readonly consumers: readonly Consumer[];
  /** Hex SHA-256 of a token → its consumer. */
  readonly byTokenHash: ReadonlyMap<string, Consumer>;
  /** Lower-case hex fingerprint (no colons) → consumer. */
  readonly byFingerprint: ReadonlyMap<string, Consumer>;
  /** Certificate subject CN → consumer. */
  readonly bySubject: ReadonlyMap<string, Consumer>;
}

/** Thrown for an invalid file; `field` is the path of the offending value. */
export class ServeConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`serve config ${field}: ${message}`);
    this.name = 'ServeConfigError';
    this.field = field;
  }
}

/** Hex SHA-256 of a bearer token, as stored. */
export function tokenHash(token: string): string {
  return hash('sha256', token, 'hex');
}

const DEFAULTS = { title: 'ThreatMesh', maxPageSize: 1000, maxContentLength: 10 * 1024 * 1024 } as const;
const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
const HEX64 = /^[0-9a-f]{64}$/;

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ServeConfigError(field, 'must be a mapping');
  return v as Record<string, unknown>;
}

function only(o: Record<string, unknown>, field: string, keys: readonly string[]): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw new ServeConfigError(`${field}.${extra[0]}`, `unknown field; allowed: ${keys.join(', ')}`);
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ServeConfigError(field, 'must be a list');
  return v;
}

function intIn(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ServeConfigError(field, `must be a whole number from ${min} to ${max}`);
  return v;
}

function fingerprint(text: string): string {
  return text.replaceAll(':', '').toLowerCase();
}

function tokenSource(v: unknown, field: string): TokenSource {
  const o = obj(v, field);
  only(o, field, ['sha256', 'file']);
  if (typeof o['sha256'] === 'string' && o['file'] === undefined) {
    const h = o['sha256'].toLowerCase();
    if (!HEX64.test(h)) throw new ServeConfigError(`${field}.sha256`, 'must be 64 hex digits: the SHA-256 of the token (printf %s "$TOKEN" | sha256sum)');
    return { sha256: h };
  }
  if (typeof o['file'] === 'string' && o['file'] !== '' && o['sha256'] === undefined) return { file: o['file'] };
  throw new ServeConfigError(field, 'give exactly one of sha256 (hex SHA-256 of the token) or file (a file holding the token, e.g. a mounted Secret key)');
}

function certificate(v: unknown, field: string): CertificateMatch {
  const o = obj(v, field);
  only(o, field, ['subject', 'sha256']);
  if (typeof o['subject'] === 'string' && o['subject'] !== '' && o['sha256'] === undefined) return { subject: o['subject'] };
  if (typeof o['sha256'] === 'string' && o['subject'] === undefined) {
    const f = fingerprint(o['sha256']);
    if (!HEX64.test(f)) throw new ServeConfigError(`${field}.sha256`, 'must be the certificate\'s SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256)');
    return { sha256: f };
  }
  throw new ServeConfigError(field, 'give exactly one of subject (the client certificate\'s CN) or sha256 (its fingerprint)');
}

function consumerSpec(v: unknown, field: string): ConsumerSpec {
  const o = obj(v, field);
  only(o, field, ['name', 'maxTlp', 'roles', 'tokens', 'certificates', 'sightingKey']);
  const name = o['name'];
  if (typeof name !== 'string' || !NAME.test(name)) throw new ServeConfigError(`${field}.name`, 'must be a lower-case name of letters, digits, ".", "_" or "-" (at most 63 characters)');
  if (!isTlp(o['maxTlp'])) throw new ServeConfigError(`${field}.maxTlp`, `must be one of ${TLP_LEVELS.join(', ')}`);
  const roles = list(o['roles'] ?? ['consumer'], `${field}.roles`).map((r, i) => {
    if (typeof r !== 'string' || !(ROLES as readonly string[]).includes(r)) throw new ServeConfigError(`${field}.roles[${i}]`, `must be one of ${ROLES.join(', ')}`);
    return r as ServeRole;
  });
  const tokens = list(o['tokens'], `${field}.tokens`).map((t, i) => tokenSource(t, `${field}.tokens[${i}]`));
  const certificates = list(o['certificates'], `${field}.certificates`).map((c, i) => certificate(c, `${field}.certificates[${i}]`));
  if (tokens.length + certificates.length === 0) throw new ServeConfigError(field, `consumer ${name} has no tokens and no certificates, so nobody can authenticate as it`);
  const key = o['sightingKey'];
  if (roles.includes('sighter') !== (key !== undefined)) throw new ServeConfigError(`${field}.sightingKey`, 'a sighter needs sightingKey (its Ed25519 public key, base64 of the 32 raw bytes: the publicKey of its PartnerNode or `threatmesh keys generate`), and only a sighter has one');
  if (key !== undefined && (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(key))) throw new ServeConfigError(`${field}.sightingKey`, 'must be base64 of a 32-byte Ed25519 public key');
  return { name, maxTlp: o['maxTlp'], roles, tokens, certificates, ...(typeof key === 'string' ? { sightingKey: key } : {}) };
}

/** Validates a parsed configuration document. */
export function validateServeConfig(value: unknown): ServeConfigSpec {
  const o = obj(value ?? {}, '(document)');
  only(o, '(document)', ['title', 'maxPageSize', 'maxContentLength', 'consumers']);
  if (o['title'] !== undefined && (typeof o['title'] !== 'string' || o['title'] === '')) throw new ServeConfigError('title', 'must be a non-empty string');
  const consumers = list(o['consumers'], 'consumers').map((c, i) => consumerSpec(c, `consumers[${i}]`));
  const seen = new Set<string>();
  consumers.forEach((c, i) => {
    if (seen.has(c.name)) throw new ServeConfigError(`consumers[${i}].name`, `${c.name} is listed twice; give each consumer one entry`);
    seen.add(c.name);
  });
  return {
    title: (o['title']) ?? DEFAULTS.title,
    maxPageSize: intIn(o['maxPageSize'], 'maxPageSize', 1, 10_000, DEFAULTS.maxPageSize),
    maxContentLength: intIn(o['maxContentLength'], 'maxContentLength', 1024, 1024 * 1024 * 1024, DEFAULTS.maxContentLength),
    consumers,
  };
}

/** Parses and validates the file's text (YAML or JSON). */
export function parseServeConfig(text: string): ServeConfigSpec {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new ServeConfigError('(document)', `not valid YAML or JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return validateServeConfig(value);
}

function claim<K>(map: Map<K, Consumer>, key: K, c: Consumer, field: string): void {
  const other = map.get(key);
  if (other !== undefined && other !== c) throw new ServeConfigError(field, `also identifies consumer ${other.name}; one credential must map to one consumer`);
  map.set(key, c);
}

/**
 * Resolves the spec: reads token files through `readText` (trailing newline ignored), hashes
 * them and forgets the tokens. Throws a {@link ServeConfigError} naming the field.
 */
export async function loadServeConfig(spec: ServeConfigSpec, readText: (path: string) => Promise<string>): Promise<ServeConfig> {
  const byTokenHash = new Map<string, Consumer>();
  const byFingerprint = new Map<string, Consumer>();
  const bySubject = new Map<string, Consumer>();
  const consumers: Consumer[] = [];
  for (const [i, s] of spec.consumers.entries()) {
    const c: Consumer = { name: s.name, maxTlp: s.maxTlp, tlps: tlpsUpTo(s.maxTlp), roles: new Set(s.roles), ...(s.sightingKey !== undefined ? { sightingKey: s.sightingKey } : {}) };
    consumers.push(c);
    for (const [j, t] of s.tokens.entries()) {
      const field = `consumers[${i}].tokens[${j}]`;
      claim(byTokenHash, 'sha256' in t ? t.sha256 : await tokenFromFile(t.file, `${field}.file`, readText), c, field);
    }
    s.certificates.forEach((m, j) => {
      if ('sha256' in m) claim(byFingerprint, m.sha256, c, `consumers[${i}].certificates[${j}]`);
      else claim(bySubject, m.subject, c, `consumers[${i}].certificates[${j}]`);
    });
  }
  return { title: spec.title, maxPageSize: spec.maxPageSize, maxContentLength: spec.maxContentLength, consumers, byTokenHash, byFingerprint, bySubject };
}

async function tokenFromFile(path: string, field: string, readText: (path: string) => Promise<string>): Promise<string> {
  let text: string;
  try {
    text = await readText(path);
  } catch (err) {
    throw new ServeConfigError(field, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.length < 16) throw new ServeConfigError(field, `${path} holds a token of ${token.length} characters; use at least 16 random characters (openssl rand -hex 32)`);
  return tokenHash(token);
}

/** A lower-case hex SHA-256 fingerprint without colons, as stored (from Node's `fingerprint256`). */
export function normalFingerprint(text: string): string {
  return fingerprint(text);
}
