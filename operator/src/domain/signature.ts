/**
 * Ed25519 signatures for the ThreatMesh protocol (node:crypto, no I/O).
 *
 * Every protocol signature is domain-separated: it covers
 * `"threatmesh/v1/" + kind + "\0" + message`, so a signature made for one message kind
 * (a vote, say) never verifies as another (a tree head). Keys are wrapped in {@link PublicKey}
 * and {@link SigningKey}, which parse once and cache the KeyObject: parsing on every verify
 * halves throughput. A {@link PublicKey} also remembers the signatures it verified (a bounded
 * set of SHA-256 digests of the key, the signed bytes and the signature, successes only, as
 * Bitcoin Core's signature cache does), so one process checking the same signature twice (a voter
 * verifies a proposal, then its replica the same proposal in the log entry) pays one Ed25519
 * verification. Keys parsed with one shared {@link VerifiedSignatures} (the operator passes one
 * per process) share that memory, so parsing a key again loses nothing.
 */
import { Buffer } from 'node:buffer';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** The message kinds a ThreatMesh signature can be made for. */
export type SignatureKind = 'proposal' | 'proposal-batch' | 'vote' | 'vote-batch' | 'tree-head' | 'revocation' | 'sighting-report';

/** Every {@link SignatureKind}, for validation and iteration. */
export const SIGNATURE_KINDS: readonly SignatureKind[] = Object.freeze(['proposal', 'proposal-batch', 'vote', 'vote-batch', 'tree-head', 'revocation', 'sighting-report']);

/** Why a key or signing input was refused. */
export type SignatureInputReason = 'invalid-public-key' | 'invalid-private-key' | 'invalid-kind';

/** Thrown for malformed keys or an unknown kind; `reason` is machine-readable, `message` says what to do. */
export class SignatureInputError extends Error {
  /** Machine-readable cause. */
  readonly reason: SignatureInputReason;
  constructor(reason: SignatureInputReason, message: string) {
    super(message);
    this.name = 'SignatureInputError';
    this.reason = reason;
  }
}

// DER headers of an Ed25519 SubjectPublicKeyInfo and PKCS#8 PrivateKeyInfo (RFC 8410); the 32 raw bytes follow.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const RAW_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const rawSign = Symbol('rawSign');
const rawVerify = Symbol('rawVerify');

/** How many verified signatures a {@link PublicKey} parsed without a shared memory remembers. */
export const VERIFIED_SIGNATURES_KEPT = 16_384;

/**
 * How many verified signatures a process's shared {@link VerifiedSignatures} remembers by
 * default: 91 to 107 bytes of heap each (measured), so at most about 56 MB, and only once the process
 * has verified that many distinct signatures. It holds the votes of 170,000 ThreatIndicators of
 * three votes, 17 times the default working set (docs/adr/2026-12-07-verified-signatures-outlast-terms.md).
 */
export const SHARED_SIGNATURES_KEPT = 524_288;

/**
 * A bounded set of (public key, signed bytes, signature) triples that verified, by SHA-256 of
 * the three (key and signature have fixed lengths, so the concatenation is unambiguous). The
 * caller adds only successes, so a failure is verified again every time. One may be shared by
 * every key a process parses (`PublicKey.fromRaw(raw, memory)`): keys parsed again (a new term,
 * a PartnerNode reconciled again) then find what an earlier parse of the same key verified.
 *
 * Past `limit` ids a new id replaces one picked by its own first bytes (a uniform pick: they are
 * SHA-256 output), not the oldest: a scan of more signatures than the limit, repeated in the same
 * order (every resync of the informer), would find nothing under first-in-first-out or LRU, as
 * each miss evicts the next signature the scan needs; under random replacement a repeated scan
 * of w signatures keeps finding a share h = e^(-(w/limit)(1-h)) of them (73 % at w = 1.15 limit).
 */
export class VerifiedSignatures {
  readonly #slots: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #limit: number;

  /** `limit`: ids kept (at least 1). @default VERIFIED_SIGNATURES_KEPT */
  constructor(limit: number = VERIFIED_SIGNATURES_KEPT) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  /** The id of `signature` over `bytes` (the domain-separated signed bytes) by the 32-byte raw public key `key`. */
  static id(key: Uint8Array, bytes: Uint8Array, signature: Uint8Array): string {
    // 'binary' (latin1): the 32 digest bytes as a one-byte string, 48 bytes of heap where base64 takes 60.
    return createHash('sha256').update(key).update(bytes).update(signature).digest('binary');
  }

  /** True when `id` was added and not replaced since. */
  has(id: string): boolean {
    return this.#index.has(id);
  }

  /** Remembers `id` (of a signature that verified); when full, it replaces the id in the slot its first bytes pick. */
  add(id: string): void {
    if (this.#index.has(id)) return;
    let slot = this.#slots.length;
    if (slot >= this.#limit) {
      slot = (((id.charCodeAt(0) << 24) | (id.charCodeAt(1) << 16) | (id.charCodeAt(2) << 8) | id.charCodeAt(3)) >>> 0) % this.#limit;
      this.#index.delete(this.#slots[slot]!);
    }
    this.#slots[slot] = id;
    this.#index.set(id, slot);
  }

  /** How many ids are kept. */
  get size(): number {
    return this.#index.size;
  }
}

/** The bytes a protocol signature of `kind` covers: `"threatmesh/v1/" + kind + "\0" + message`. */
export function signedBytes(kind: SignatureKind, message: string | Uint8Array): Buffer {
  if (!SIGNATURE_KINDS.includes(kind)) {
    throw new SignatureInputError('invalid-kind', `unknown signature kind ${JSON.stringify(kind)}; use one of ${SIGNATURE_KINDS.join(', ')}`);
  }
  const prefix = `threatmesh/v1/${kind}\0`;
  return typeof message === 'string' ? Buffer.from(prefix + message, 'utf8') : Buffer.concat([Buffer.from(prefix, 'utf8'), message]);
}

/** Key id: lowercase hex SHA-256 of the 32-byte raw public key. */
export function keyId(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex');
}

/**
 * An Ed25519 public key with its parsed KeyObject and key id cached. Immutable in everything it
 * answers; it remembers the signatures that verified (in a memory of its own, or one shared by
 * the process), so a repeated check of the same signature costs a SHA-256 instead of an Ed25519
 * verification.
 */
export class PublicKey {
  /** Lowercase hex SHA-256 of the raw public key. */
  readonly id: string;
  readonly #key: KeyObject;
  readonly #raw: Buffer;
  readonly #verified: VerifiedSignatures;

  private constructor(key: KeyObject, raw: Buffer, memory: VerifiedSignatures = new VerifiedSignatures()) {
    this.#key = key;
    this.#raw = raw;
    this.id = keyId(raw);
    this.#verified = memory;
  }

  /**
   * Wraps 32 raw public-key bytes. Throws {@link SignatureInputError} on a wrong length.
   * `memory`: where it remembers the signatures it verified, shared with other keys (every key
   * the process parses, so a key parsed again finds what the last parse verified).
   * @default a memory of its own of {@link VERIFIED_SIGNATURES_KEPT}
   */
  static fromRaw(raw: Uint8Array, memory?: VerifiedSignatures): PublicKey {
    if (raw.length !== RAW_KEY_BYTES) {
      throw new SignatureInputError('invalid-public-key', `an Ed25519 public key is ${RAW_KEY_BYTES} raw bytes, got ${raw.length}`);
    }
    const copy = Buffer.from(raw);
    try {
      return new PublicKey(createPublicKey({ key: Buffer.concat([SPKI_PREFIX, copy]), format: 'der', type: 'spki' }), copy, memory);
    } catch (err) {
      throw new SignatureInputError('invalid-public-key', `not an Ed25519 public key: ${errorText(err)}`);
    }
  }

  /** Parses the standard base64 of the 32 raw public-key bytes (as printed by `threatmesh keys generate`); `memory` as in {@link PublicKey.fromRaw}. */
  static fromRawBase64(text: string, memory?: VerifiedSignatures): PublicKey {
    return PublicKey.fromRaw(decodeBase64(text, 'invalid-public-key', 'public key'), memory);
  }

  /** Parses a PEM `PUBLIC KEY` (SPKI). Refuses private keys and non-Ed25519 keys. */
  static fromPem(pem: string): PublicKey {
    if (/PRIVATE KEY/.test(pem)) {
      throw new SignatureInputError('invalid-public-key', 'this PEM holds a private key; pass the public key (public.pem) instead');
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw new SignatureInputError('invalid-public-key', `cannot parse PEM public key: ${errorText(err)}`);
    }
    return PublicKey.fromKeyObject(key);
  }

  /** Wraps an existing public KeyObject; it must be Ed25519. */
  static fromKeyObject(key: KeyObject): PublicKey {
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
      throw new SignatureInputError('invalid-public-key', `expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'} ${key.type} key`);
    }
    const der = key.export({ format: 'der', type: 'spki' });
    return new PublicKey(key, Buffer.from(der.subarray(der.length - RAW_KEY_BYTES)));
  }

  /** The 32 raw public-key bytes (a copy). */
  toRaw(): Buffer {
    return Buffer.from(this.#raw);
  }

  /** Standard base64 of the 32 raw bytes. */
  toRawBase64(): string {
    return this.#raw.toString('base64');
  }

  /** PEM `PUBLIC KEY` (SPKI). */
  toPem(): string {
    return this.#key.export({ format: 'pem', type: 'spki' }).toString();
  }

  /** True when both wrap the same key. */
  equals(other: PublicKey): boolean {
    return this.#raw.equals(other.#raw);
  }

  /**
   * Verifies a base64 protocol signature of `kind` over `message`. Never throws on bad input:
   * a malformed, truncated or non-string signature, or an unknown kind, gives false.
   */
  verify(kind: SignatureKind, message: string | Uint8Array, signature: string): boolean {
    const input = this.#input(kind, message, signature);
    if (input === undefined) return false;
    if (this.#verified.has(input.id)) return true;
    const ok = cryptoVerify(null, input.bytes, this.#key, input.sig);
    if (ok) this.#verified.add(input.id);
    return ok;
  }

  /**
   * True when this key verified exactly this signature of `kind` over `message` before and its
   * memory still holds it; never verifies. True means what {@link PublicKey.verify} would say;
   * false says nothing. Lets a signer with several keys (a rotation) look for a remembered
   * answer under each before paying for a verification under any.
   */
  remembers(kind: SignatureKind, message: string | Uint8Array, signature: string): boolean {
    const input = this.#input(kind, message, signature);
    return input !== undefined && this.#verified.has(input.id);
  }

  #input(kind: SignatureKind, message: string | Uint8Array, signature: string): { bytes: Buffer; sig: Buffer; id: string } | undefined {
    if (!isCanonicalBase64(signature, SIGNATURE_BYTES) || !SIGNATURE_KINDS.includes(kind)) return undefined;
    if (typeof message !== 'string' && !(message instanceof Uint8Array)) return undefined;
    const bytes = signedBytes(kind, message);
    const sig = Buffer.from(signature, 'base64');
    return { bytes, sig, id: VerifiedSignatures.id(this.#raw, bytes, sig) };
  }

  /** Low-level verification without the domain prefix; see {@link ed25519VerifyRaw}. */
  [rawVerify](message: Uint8Array, signature: Uint8Array): boolean {
    return signature.length === 64 && cryptoVerify(null, message, this.#key, signature);
  }
}

/** An Ed25519 private key with its public half. The key material stays in a private field. */
export class SigningKey {
  /** The matching public key. */
  readonly publicKey: PublicKey;
  readonly #key: KeyObject;

  private constructor(key: KeyObject) {
    this.#key = key;
    this.publicKey = PublicKey.fromKeyObject(createPublicKey(key));
  }

  /** A fresh random key. */
  static generate(): SigningKey {
    return new SigningKey(generateKeyPairSync('ed25519').privateKey);
  }

  /** Wraps the 32-byte private key (the RFC 8032 seed). */
  static fromRaw(seed: Uint8Array): SigningKey {
    if (seed.length !== RAW_KEY_BYTES) {
      throw new SignatureInputError('invalid-private-key', `an Ed25519 private key is ${RAW_KEY_BYTES} raw bytes, got ${seed.length}`);
    }
    return new SigningKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
  }

  /** Parses the standard base64 of the 32-byte private key. */
  static fromRawBase64(text: string): SigningKey {
    return SigningKey.fromRaw(decodeBase64(text, 'invalid-private-key', 'private key'));
  }

  /** Parses an unencrypted PEM `PRIVATE KEY` (PKCS#8); it must be Ed25519. */
  static fromPem(pem: string): SigningKey {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw new SignatureInputError('invalid-private-key', `cannot parse PEM private key (unencrypted PKCS#8 expected): ${errorText(err)}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new SignatureInputError('invalid-private-key', `expected an Ed25519 private key, got ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    return new SigningKey(key);
  }

  /** The key id of the public half. */
  get id(): string {
    return this.publicKey.id;
  }

  /** PEM `PRIVATE KEY` (unencrypted PKCS#8). Secret: write it with mode 0600. */
  toPem(): string {
    return this.#key.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** Standard base64 of the 32-byte private key. Secret. */
  toRawBase64(): string {
    const der = this.#key.export({ format: 'der', type: 'pkcs8' });
    return der.subarray(der.length - RAW_KEY_BYTES).toString('base64');
  }

  /** Signs `message` as `kind` (domain-separated) and returns the 64-byte signature in standard base64. */
  sign(kind: SignatureKind, message: string | Uint8Array): string {
    return cryptoSign(null, signedBytes(kind, message), this.#key).toString('base64');
  }

  /** Low-level signing without the domain prefix; see {@link ed25519SignRaw}. */
  [rawSign](message: Uint8Array): Buffer {
    return cryptoSign(null, message, this.#key);
  }
}

/** A freshly generated key: the signing key, its public key and key id. */
export interface KeyPair {
  readonly signingKey: SigningKey;
  readonly publicKey: PublicKey;
  readonly keyId: string;
}

/** Generates a random Ed25519 key pair. */
export function generateKeyPair(): KeyPair {
  const signingKey = SigningKey.generate();
  return { signingKey, publicKey: signingKey.publicKey, keyId: signingKey.id };
}

/**
 * Plain RFC 8032 Ed25519 signing of `message`, WITHOUT the domain-separation prefix.
 * Not for protocol use (such a signature could be replayed across kinds); it exists for
 * known-answer tests against published vectors.
 */
export function ed25519SignRaw(key: SigningKey, message: Uint8Array): Buffer {
  return key[rawSign](message);
}

/** Plain RFC 8032 verification, WITHOUT the domain prefix. Not for protocol use; see {@link ed25519SignRaw}. */
export function ed25519VerifyRaw(key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  return key[rawVerify](message, signature);
}

/**
 * True when `text` is THE standard base64 spelling (RFC 4648 §4: `+/` alphabet, `=` padding to
 * a multiple of 4 characters, pad bits zero) of exactly `bytes` bytes. Base64 decoders ignore
 * the pad bits of the last character, so one value has up to 16 spellings; accepting only this
 * one keeps a signature or key from taking several forms (for example in log leaves).
 */
export function isCanonicalBase64(text: unknown, bytes: number): text is string {
  if (typeof text !== 'string' || text.length !== 4 * Math.ceil(bytes / 3)) return false;
  const pad = (3 - (bytes % 3)) % 3;
  const body = text.length - pad;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = i < body ? isBase64Char(c) : c === 61;
    if (!ok) return false;
  }
  // The round trip re-encodes with zero pad bits: any other spelling of the same bytes differs.
  return Buffer.from(text, 'base64').toString('base64') === text;
}

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}

function decodeBase64(text: string, reason: SignatureInputReason, what: string): Buffer {
  const hint = typeof text === 'string' && text.trim() !== text ? ' without surrounding white space' : '';
  if (!isCanonicalBase64(text, RAW_KEY_BYTES)) {
    throw new SignatureInputError(reason, `an Ed25519 ${what} in base64 is exactly 44 characters of canonical standard base64 (32 bytes, the 43rd character one of AEIMQUYcgkosw048, then "=")${hint}; copy it as \`threatmesh keys generate\` printed it`);
  }
  return Buffer.from(text, 'base64');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
