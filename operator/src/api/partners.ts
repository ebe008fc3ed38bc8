/**
 * The voter set: which partners may vote and with which Ed25519 key. The PartnerNode controller
 * keeps a VoterRegistry up to date; the ThreatIndicator controller and the webhook read it. It is
 * an object passed in at wiring time, never module state.
 */
import type { DirectoryEntry, PartnerRole } from '../domain/quorum.ts';
import type { RetiredKey } from '../domain/keys.ts';
import { PublicKey, type VerifiedSignatures } from '../domain/signature.ts';
import type { KindValidator } from './validate.ts';
import { MAX_RETIRED_KEYS } from './schemas/partnernode.ts';
import type { PartnerNode, Role } from './types.ts';
import type { ObjectKey } from '../runtime/types.ts';

/** One valid partner identity derived from a PartnerNode. */
export interface PartnerEntry {
  /** namespace/name of the PartnerNode. */
  readonly key: ObjectKey;
  readonly partnerId: string;
  readonly publicKey: PublicKey;
  /** Keys it signed with before (domain/keys.ts): votes and heads dated before each one's validUntil still verify. */
  readonly retiredKeys?: readonly RetiredKey[];
  readonly roles: readonly Role[];
}

/** A PartnerNode's identity, or why it is not usable. Pure. */
export type PartnerParse = { readonly ok: true; readonly entry: PartnerEntry } | { readonly ok: false; readonly reason: 'publicKey' | 'roles'; readonly message: string };

/**
 * Derives the identity of a PartnerNode; the message says what to fix. Its keys remember the
 * signatures they verify in `signatures` (the process's shared memory, so the keys of this
 * PartnerNode parsed again, in a new term or after a status change, find them).
 * @default signatures: a memory per key
 */
export function partnerEntry(key: ObjectKey, pn: PartnerNode, signatures?: VerifiedSignatures): PartnerParse {
  let publicKey: PublicKey;
  try {
    publicKey = PublicKey.fromRawBase64(pn.spec.publicKey, signatures);
  } catch (err) {
    return { ok: false, reason: 'publicKey', message: `spec.publicKey is not a usable Ed25519 public key (${err instanceof Error ? err.message : String(err)}); paste the 44-character base64 public key the partner published` };
  }
  if (pn.spec.roles.includes('sequencer') && pn.spec.roles.includes('voter')) {
    return { ok: false, reason: 'roles', message: 'spec.roles holds both sequencer and voter; the sequencer never votes: drop voter from the sequencer PartnerNode' };
  }
  const retired = retiredKeysOf(pn, signatures);
  if (typeof retired === 'string') return { ok: false, reason: 'publicKey', message: retired };
  return { ok: true, entry: { key, partnerId: pn.spec.partnerId, publicKey, ...(retired.length > 0 ? { retiredKeys: retired } : {}), roles: [...pn.spec.roles] } };
}

function retiredKeysOf(pn: PartnerNode, signatures: VerifiedSignatures | undefined): RetiredKey[] | string {
  const out: RetiredKey[] = [];
  for (const [i, r] of (pn.spec.retiredKeys ?? []).entries()) {
    if (!Number.isFinite(Date.parse(r.validUntil))) return `spec.retiredKeys[${i}].validUntil ${JSON.stringify(r.validUntil)} is not a date-time; write it like 2026-12-06T12:00:00Z`;
    try {
      out.push({ publicKey: PublicKey.fromRawBase64(r.publicKey, signatures), validUntil: r.validUntil });
    } catch (err) {
      return `spec.retiredKeys[${i}].publicKey is not a usable Ed25519 public key (${err instanceof Error ? err.message : String(err)})`;
    }
    if (out[out.length - 1]!.publicKey.toRawBase64() === pn.spec.publicKey) return `spec.retiredKeys[${i}] is the current spec.publicKey; a key is either current or retired`;
  }
  return out;
}

/** True when two entries carry the same keys (current and retired, with their validity). */
function sameKeys(a: PartnerEntry, b: PartnerEntry): boolean {
  const retired = (e: PartnerEntry): string => (e.retiredKeys ?? []).map((k) => `${k.publicKey.toRawBase64()}@${k.validUntil}`).join();
  return a.publicKey.equals(b.publicKey) && retired(a) === retired(b);
}

/** Listener called after the voter set changed. */
export type VoterSetListener = () => void;

/**
 * Partner identities by PartnerNode key. A partner id claimed by two PartnerNodes with different
 * keys is ambiguous and neither counts as a voter until one is fixed.
 */
export class VoterRegistry {
  private readonly entries = new Map<ObjectKey, PartnerEntry>();
  private readonly listeners: VoterSetListener[] = [];

  /** Calls `fn` whenever the set of voters changes. */
  onChange(fn: VoterSetListener): void {
    this.listeners.push(fn);
  }

  /** Adds or replaces the identity of a PartnerNode. */
  upsert(entry: PartnerEntry): void {
    const old = this.entries.get(entry.key);
    this.entries.set(entry.key, entry);
    if (!old || !sameKeys(old, entry) || old.partnerId !== entry.partnerId || old.roles.join() !== entry.roles.join()) this.notify();
  }

  /** Forgets a PartnerNode (deleted or invalid). */
  remove(key: ObjectKey): void {
    if (this.entries.delete(key)) this.notify();
  }

  /** Other PartnerNodes that claim the same partner id with a different key. */
  conflicts(entry: PartnerEntry): PartnerEntry[] {
    return [...this.entries.values()].filter((e) => e.key !== entry.key && e.partnerId === entry.partnerId && !e.publicKey.equals(entry.publicKey));
  }

  /** The voters: partners with the voter role (never the sequencer) whose id is unambiguous, one per partner id, sorted by id. */
  voters(): PartnerEntry[] {
    const byId = new Map<string, PartnerEntry | null>();
    for (const e of this.entries.values()) {
      if (!e.roles.includes('voter') || e.roles.includes('sequencer')) continue;
      const seen = byId.get(e.partnerId);
      if (seen === undefined) byId.set(e.partnerId, e);
      else if (seen !== null && !seen.publicKey.equals(e.publicKey)) byId.set(e.partnerId, null);
    }
    return [...byId.values()].filter((e): e is PartnerEntry => e !== null).sort((a, b) => a.partnerId.localeCompare(b.partnerId));
  }

  /** The identity of a partner id, when it is unambiguous. */
  partner(partnerId: string): PartnerEntry | undefined {
    const found = [...this.entries.values()].filter((e) => e.partnerId === partnerId);
    const first = found[0];
    return first && found.every((e) => e.publicKey.equals(first.publicKey)) ? first : undefined;
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }
}

/** A registry built from a list of PartnerNodes (for the webhook on replicas that do not lead); `signatures` as in {@link partnerEntry}. */
export function registryFrom(nodes: readonly PartnerNode[], signatures?: VerifiedSignatures): VoterRegistry {
  const r = new VoterRegistry();
  for (const pn of nodes) {
    const p = partnerEntry(`${pn.metadata.namespace ?? ''}/${pn.metadata.name}`, pn, signatures);
    if (p.ok) r.upsert(p.entry);
  }
  return r;
}

/** A PartnerNode left out of a directory, and why. */
export interface SkippedPartner {
  readonly name: string;
  readonly reason: string;
}

/** A usable PartnerNode and the directory entry it gives. */
export interface DirectoryMember {
  readonly node: PartnerNode;
  readonly entry: DirectoryEntry;
}

/** The network both exchange parties derive from the PartnerNodes of their namespace. */
export interface NetworkDirectory {
  /** Partners (never the sequencer), one per partner id and per key, by id. */
  readonly partners: readonly DirectoryMember[];
  /** PartnerNodes with the role sequencer (usable ones), by name. */
  readonly sequencers: readonly DirectoryMember[];
  /** What was left out, and why. */
  readonly skipped: readonly SkippedPartner[];
}

/** `ab12…` (lower-case hex, as PartnerNodes pin it) → `AB:12:…` (as node reports certificate fingerprints). */
export function fingerprintOfHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

/**
 * The directory of the exchange from PartnerNodes, the same for the sequencer and every
 * partner: objects being deleted are ignored; objects that fail the schema or carry an unusable
 * key are skipped with the reason; a partner id claimed with different keys, or one key claimed
 * by different partner ids (one party must count once), leaves every such claim out; pinned
 * certificates are kept. PartnerNodes with the role sequencer are listed apart. Pure.
 */
export function networkDirectory(nodes: readonly PartnerNode[], validator: KindValidator): NetworkDirectory {
  const skipped: SkippedPartner[] = [];
  const sequencers: DirectoryMember[] = [];
  const claims: DirectoryMember[] = [];
  for (const pn of [...nodes].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (pn.metadata.deletionTimestamp !== undefined) continue;
    const entry = directoryEntry(pn, validator);
    if (typeof entry === 'string') skipped.push({ name: pn.metadata.name, reason: entry });
    else ((pn.spec.roles as readonly string[]).includes('sequencer') ? sequencers : claims).push({ node: pn, entry });
  }
  const partners: DirectoryMember[] = [];
  for (const [id, mine] of groupBy(claims, (c) => c.entry.partnerId)) {
    const key = mine[0]!.entry.publicKey;
    if (!mine.every((c) => c.entry.publicKey.equals(key))) {
      skipped.push({ name: id, reason: `partner id ${JSON.stringify(id)} is claimed by ${mine.length} PartnerNodes with different public keys; delete or fix all but one` });
      continue;
    }
    const sharing = claims.filter((c) => c.entry.partnerId !== id && c.entry.publicKey.equals(key)).map((c) => c.entry.partnerId);
    if (sharing.length > 0) {
      skipped.push({ name: id, reason: `partner id ${JSON.stringify(id)} has the same public key as ${[...new Set(sharing)].join(', ')}: one key is one party, and it must count once; give each partner its own key` });
      continue;
    }
    partners.push(mine[0]!);
  }
  return { partners, sequencers, skipped };
}

function directoryEntry(pn: PartnerNode, validator: KindValidator): DirectoryEntry | string {
  const valid = validator.validate(pn);
  if (!valid.ok) return `invalid PartnerNode: ${valid.errors.join('; ')}`;
  const parsed = partnerEntry(`${pn.metadata.namespace ?? ''}/${pn.metadata.name}`, pn);
  if (!parsed.ok) return parsed.message;
  const roles = parsed.entry.roles.filter((r): r is PartnerRole => (r as string) !== 'sequencer');
  const pin = pn.spec.tls?.pinnedCertSha256;
  return { partnerId: parsed.entry.partnerId, publicKey: parsed.entry.publicKey, ...(parsed.entry.retiredKeys ? { retiredKeys: parsed.entry.retiredKeys } : {}), roles, ...(pin !== undefined ? { certFingerprint256: fingerprintOfHex(pin) } : {}) };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Array<[string, T[]]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return [...out].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * The PartnerNode after its key rotated: `next` becomes spec.publicKey and the current key joins
 * spec.retiredKeys, valid for signatures dated before `validUntil` (a little after the switch for
 * a rotation, before the leak for a compromise). Keys retired before keep their entries; only the
 * most recent ones are kept when the list would exceed the schema's 8. Pure.
 */
export function rotatedPartnerNode(pn: PartnerNode, next: PublicKey, validUntil: Date): PartnerNode {
  if (next.toRawBase64() === pn.spec.publicKey) throw new Error(`the new key is already spec.publicKey of PartnerNode ${pn.metadata.name}; generate a fresh key`);
  const retiredKeys = [...(pn.spec.retiredKeys ?? []), { publicKey: pn.spec.publicKey, validUntil: validUntil.toISOString() }].slice(-MAX_RETIRED_KEYS);
  return { ...pn, spec: { ...pn.spec, publicKey: next.toRawBase64(), retiredKeys } };
}
