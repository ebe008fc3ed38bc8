/**
 * The matcher's lookup snapshot: every listed indicator in compact, read-only tables, built once
 * and never changed (a new set of indicators is a new snapshot, swapped in whole; see
 * holder.ts). Lookups take byte ranges of log buffers and allocate nothing.
 *
 * Layout (the memory budget is about 100 bytes per indicator):
 * - values: every indicator's canonical text back to back in one arena, with Int32 offsets;
 * - digests: 32 raw bytes each; types: one byte each;
 * - addresses and CIDRs: domain/nettable.ts (longest prefix wins);
 * - domains: a case-folding ByteTable probed with every label-aligned suffix (the most specific
 *   listed domain wins); hashes: a case-folding ByteTable; URLs: an exact ByteTable over the
 *   canonical text (domain/indicator.ts normalization), plus a table of the hosts that URL
 *   indicators name, so a record's URL is normalized only when its host could match.
 * Email indicators are not matched in logs; `add` reports them as unsupported.
 */
import { ByteTable, KeyArena } from '../domain/bytetable.ts';
import type { IndicatorType } from '../domain/indicator.ts';
import { parseCidr, parseIpv4, parseIpv6 } from '../domain/ip.ts';
import { NetTableBuilder, type NetTable } from '../domain/nettable.ts';
import { longestSuffixBytes } from '../domain/suffixtable.ts';
import { suffixClosure } from './suffixclosure.ts';

/** One indicator to match, as the replicated set or `ingest --dry-run` lists it. */
export interface ListedIndicator {
  readonly type: IndicatorType;
  /** Canonical value (domain/indicator.ts normalize). */
  readonly value: string;
  /** Hex SHA-256 of the canonical indicator. */
  readonly digest: string;
}

const TYPE_CODES: readonly IndicatorType[] = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email'];
const DIGEST_RE = /^[0-9a-f]{64}$/;

/** Why `SnapshotBuilder.add` refused an indicator. */
export type AddRefusal = 'unsupported-type' | 'invalid-value' | 'invalid-digest';

/** Collects indicators, then builds a MatcherSnapshot. */
export class SnapshotBuilder {
  readonly #values = new KeyArena();
  readonly #hosts = new KeyArena();
  #digests = new Uint8Array(32 * 1024);
  #types = new Uint8Array(1024);
  readonly #nets = new NetTableBuilder();
  readonly #domains: number[] = [];
  readonly #hashes: number[] = [];
  readonly #urls: number[] = [];
  #netCount = 0;

  /**
   * Adds one indicator; returns undefined when added, else why not (never throws on bad data).
   * An indicator added twice takes arena space twice but matches as the first copy.
   */
  add(ind: ListedIndicator): AddRefusal | undefined {
    if (!DIGEST_RE.test(ind.digest)) return 'invalid-digest';
    const code = TYPE_CODES.indexOf(ind.type);
    if (code < 0 || ind.type === 'email') return 'unsupported-type';
    const id = this.#values.count;
    if (!this.#index(ind, id)) return 'invalid-value';
    this.#values.add(ind.value);
    this.#grow(id);
    this.#types[id] = code;
    this.#digests.set(Buffer.from(ind.digest, 'hex'), id * 32);
    return undefined;
  }

  #grow(id: number): void {
    if (id < this.#types.length) return;
    const types = new Uint8Array(this.#types.length * 2);
    types.set(this.#types);
    this.#types = types;
    const digests = new Uint8Array(this.#digests.length * 2);
    digests.set(this.#digests);
    this.#digests = digests;
  }

  #index(ind: ListedIndicator, id: number): boolean {
    switch (ind.type) {
      case 'ipv4': case 'ipv6': case 'cidr': return this.#addNet(ind.value, id);
      case 'domain': this.#domains.push(id); return isAscii(ind.value);
      case 'md5': case 'sha1': case 'sha256': this.#hashes.push(id); return true;
      case 'url': return this.#addUrl(ind.value, id);
      default: return false;
    }
  }

  #addNet(value: string, id: number): boolean {
    const c = parseCidr(value);
    if (!c.ok) return false;
    this.#netCount++;
    if (c.family === 4) this.#nets.addV4(c.address, c.prefix, id);
    else this.#nets.addV6(c.groups, c.prefix, id);
    return true;
  }

  #addUrl(value: string, id: number): boolean {
    const u = URL.parse(value);
    if (u === null || !isAscii(value)) return false;
    this.#urls.push(id);
    this.#hosts.add(u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname);
    return true;
  }

  /** Number of indicators added. */
  get count(): number {
    return this.#values.count;
  }

  /** The snapshot of everything added (the builder should be dropped afterwards). */
  build(): MatcherSnapshot {
    const n = this.#values.count;
    const values = this.#values.bytes();
    const starts = this.#values.starts();
    const hostCount = this.#hosts.count;
    return new MatcherSnapshot({
      count: n, values, starts,
      types: this.#types.slice(0, n), digests: this.#digests.slice(0, n * 32),
      nets: this.#nets.build(), netCount: this.#netCount,
      domains: new ByteTable(values, starts, this.#domains, this.#domains.length, true),
      hashes: new ByteTable(values, starts, this.#hashes, this.#hashes.length, true),
      urls: new ByteTable(values, starts, this.#urls, this.#urls.length, false),
      urlHosts: new ByteTable(this.#hosts.bytes(), this.#hosts.starts(), range(hostCount), hostCount, true),
    });
  }
}

function exactTable(t: ByteTable): ExactTable {
  return { filter: t.filter, blockShift: t.blockShift, ...t.slotView };
}

function* idsOfType(p: SnapshotParts, code: number): Generator<number> {
  for (let id = 0; id < p.count; id++) if (p.types[id] === code) yield id;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

interface SnapshotParts {
  readonly count: number;
  readonly values: Uint8Array;
  readonly starts: Int32Array;
  readonly types: Uint8Array;
  readonly digests: Uint8Array;
  readonly nets: NetTable;
  /** Address and network indicators added to `nets`. */
  readonly netCount: number;
  readonly domains: ByteTable;
  readonly hashes: ByteTable;
  readonly urls: ByteTable;
  readonly urlHosts: ByteTable;
}

/** See `MatcherSnapshot.missTables`. */
export interface MissTables {
  /** The IPv4 bitmap: bit `address >>> shift`. */
  readonly bits: Uint8Array;
  readonly shift: number;
  readonly domainFilter: Int32Array;
  readonly domainBlockShift: number;
  /** The domains' suffix closure (suffixclosure.ts): bit `finishedHash & (8 * length - 1)`. */
  readonly domainClosure: Uint8Array;
  /** The hash table's filter and slots. */
  readonly hashes: ExactTable;
  /** The filter and slots of the table of hosts that URL indicators name. */
  readonly urlHosts: ExactTable;
}

/** A ByteTable's blocked filter (bytetable.ts `mayHold`) and slots (`slotView`), read-only views. */
export interface ExactTable {
  readonly filter: Int32Array;
  readonly blockShift: number;
  readonly slots: Int32Array;
  readonly mask: number;
}

/** An immutable set of indicators with allocation-free lookups; ids are 0..size-1. */
export class MatcherSnapshot {
  readonly #p: SnapshotParts;
  /** The domains' suffix closure, made on first use by `missTables`. */
  #closure: Uint8Array | undefined;
  /** Number of indicators. */
  readonly size: number;
  /** True when some URL indicator exists (records' URLs are worth building). */
  readonly hasUrls: boolean;
  /** True when some address or network indicator exists (address fields are worth parsing). */
  readonly hasNets: boolean;
  /** True when some domain indicator exists (host names are worth looking up). */
  readonly hasDomains: boolean;
  /** True when some hash indicator exists. */
  readonly hasHashes: boolean;

  constructor(parts: SnapshotParts) {
    this.#p = parts;
    this.size = parts.count;
    this.hasUrls = parts.urls.size > 0;
    this.hasNets = parts.netCount > 0;
    this.hasDomains = parts.domains.size > 0;
    this.hasHashes = parts.hashes.size > 0;
  }

  /** The indicator type of `id`. */
  type(id: number): IndicatorType {
    return TYPE_CODES[this.#p.types[id] ?? 0] ?? 'ipv4';
  }

  /** The canonical value of `id`. */
  value(id: number): string {
    return Buffer.from(this.#p.values.buffer, this.#p.values.byteOffset, this.#p.values.byteLength).toString('latin1', this.#p.starts[id], this.#p.starts[id + 1]);
  }

  /** The hex digest of `id`. */
  digest(id: number): string {
    return Buffer.from(this.#p.digests.buffer, this.#p.digests.byteOffset + id * 32, 32).toString('hex');
  }

  /** The indicator (ipv4 or the longest cidr) holding the IPv4 address, or -1. */
  ipv4(address: number): number {
    return this.#p.nets.lookupV4(address);
  }

  /** True when some listed network may hold the IPv4 address (false: surely none). */
  mayHoldIpv4(address: number): boolean {
    return this.#p.nets.mayHoldV4(address);
  }

  /** The indicator (ipv6 or the longest cidr) holding the IPv6 address, or -1. */
  ipv6(groups: ArrayLike<number>): number {
    return this.#p.nets.lookupV6(groups);
  }

  /** The most specific listed domain that is `buf[start, end)` or a parent of it, or -1. */
  domain(buf: Uint8Array, start: number, end: number): number {
    return longestSuffixBytes(this.#p.domains, buf, start, end);
  }

  /** The hash indicator equal (case-insensitively) to `buf[start, end)`, or -1. */
  hash(buf: Uint8Array, start: number, end: number): number {
    return this.#p.hashes.getBytes(buf, start, end);
  }

  /** True when a URL indicator names the host `buf[start, end)`. */
  urlHost(buf: Uint8Array, start: number, end: number): boolean {
    return this.#p.urlHosts.getBytes(buf, start, end) >= 0;
  }

  /** The URL indicator whose canonical text is `url` (already normalized), or -1. */
  url(url: string): number {
    return this.#p.urls.getString(url);
  }

  /**
   * The two tables that answer "surely no hit" (read-only views, not copies), for prefilters that
   * copy them elsewhere (formats/tsvprefilter.ts): the IPv4 bitmap of `mayHoldV4`, and the domain
   * table's blocked filter (bytetable.ts `mayHold`) with its block shift, the domains' suffix
   * closure (suffixclosure.ts; made on the first call, about 1 ms per 10,000 domains), and the
   * filters and slots of the hash table and of the hosts that URL indicators name.
   */
  get missTables(): MissTables {
    const p = this.#p;
    const d = p.domains;
    this.#closure ??= suffixClosure(p.values, p.starts, idsOfType(p, TYPE_CODES.indexOf('domain')));
    return {
      ...p.nets.v4Bitmap, domainFilter: d.filter, domainBlockShift: d.blockShift, domainClosure: this.#closure,
      hashes: exactTable(p.hashes), urlHosts: exactTable(p.urlHosts),
    };
  }

  /** Bytes held by the snapshot's arrays (IPv6 Map entries excluded). */
  get bytes(): number {
    const p = this.#p;
    return p.values.byteLength + p.starts.byteLength + p.types.byteLength + p.digests.byteLength + p.nets.v4Bytes
      + p.domains.slotBytes + p.hashes.slotBytes + p.urls.slotBytes + p.urlHosts.slotBytes;
  }
}

/** Parses an IP literal (no brackets) into a lookup: the indicator id or -1; -2 when it is not an address. */
export function lookupIpText(snap: MatcherSnapshot, text: string): number {
  if (text.includes(':')) {
    const v6 = parseIpv6(text);
    return v6.ok ? snap.ipv6(v6.groups) : -2;
  }
  const v4 = parseIpv4(text);
  return v4.ok ? snap.ipv4(v4.address) : -2;
}
