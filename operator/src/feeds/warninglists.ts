/**
 * Warning lists: indicators that must never be proposed for blocking, however many feeds list
 * them — private and reserved address ranges (IANA special-purpose registries), public DNS
 * resolvers, special-use domain names, the most popular domains (and their subdomains), and
 * known-good hashes (the empty file). The shipped lists are data files under ./data/; a Feed's
 * operator can add allowlist entries (from a ConfigMap, read by the caller).
 */
import { readFile } from 'node:fs/promises';
import { detectType, normalize, type Indicator } from '../domain/indicator.ts';
import { ByteTable, KeyArena } from '../domain/bytetable.ts';
import { parseCidr, parseIpv4, parseIpv6 } from '../domain/ip.ts';
import { NetTableBuilder, type NetTable } from '../domain/nettable.ts';
import { longestSuffix } from '../domain/suffixtable.ts';
import { FeedError } from './types.ts';

/** Names of the lists, as reported in run reports. */
export type WarningListName = 'reserved-ip' | 'public-resolver' | 'special-domain' | 'top-domain' | 'known-good-hash' | 'allowlist' | `allowlist:${string}`;

/** Extra allowlist entries under the list name they are reported as (e.g. `allowlist:<configmap>`). */
export interface NamedAllowlist {
  readonly name: WarningListName;
  readonly entries: readonly string[];
}

/** Checks indicators against the warning lists. */
export interface WarningList {
  /** The list that contains `ind`, or undefined when it may be proposed. */
  match(ind: Indicator): WarningListName | undefined;
}

/** The raw entries of every list (one entry per string). */
export interface WarningListData {
  readonly reservedCidrs: readonly string[];
  readonly resolvers: readonly string[];
  readonly specialDomains: readonly string[];
  readonly topDomains: readonly string[];
  readonly knownGoodHashes: readonly string[];
  /** Extra allowlist entries: IPs, CIDRs, domains (subdomains match) or exact values (URL, hash, email). */
  readonly allow?: readonly string[];
  /** More allowlists, each reported under its own name (a ConfigMap's entries). */
  readonly allowLists?: readonly NamedAllowlist[];
}

/** A network: IPv4 as one 32-bit number, IPv6 as eight 16-bit groups. */
type Net = { readonly v: 4; readonly address: number; readonly prefix: number } | { readonly v: 6; readonly groups: readonly number[]; readonly prefix: number };

function parseNet(s: string): Net | undefined {
  if (s.indexOf('/') < 0) {
    // A bare address (the common case): skip parseCidr's prefix handling.
    if (s.indexOf(':') < 0) {
      const v4 = parseIpv4(s);
      return v4.ok ? { v: 4, address: v4.address, prefix: 32 } : undefined;
    }
    const v6 = parseIpv6(s);
    return v6.ok ? { v: 6, groups: v6.groups, prefix: 128 } : undefined;
  }
  const c = parseCidr(s);
  if (!c.ok) return undefined;
  return c.family === 4 ? { v: 4, address: c.address, prefix: c.prefix } : { v: 6, groups: c.groups, prefix: c.prefix };
}

/**
 * A list of networks: the shared longest-prefix table of domain/nettable.ts (the matcher of log
 * scans uses the same structure at a million entries), built on first use.
 */
class Ranges {
  readonly #builder = new NetTableBuilder();
  #table: NetTable | undefined;

  add(cidr: string, source: string): void {
    const net = parseNet(cidr);
    if (net === undefined) throw new FeedError('bad-config', `warning list ${source}: "${cidr}" is not an IP address or CIDR`);
    if (net.v === 4) this.#builder.addV4(net.address, net.prefix, 0);
    else this.#builder.addV6(net.groups, net.prefix, 0);
    this.#table = undefined;
  }

  #built(): NetTable {
    this.#table ??= this.#builder.build();
    return this.#table;
  }

  /** True when the address lies in one of the networks. */
  has(a: Net): boolean {
    return (a.v === 4 ? this.#built().lookupV4(a.address) : this.#built().lookupV6(a.groups)) >= 0;
  }

  /** True when the network overlaps any network of the list (contains one, or lies inside one). */
  overlaps(c: Net): boolean {
    return c.v === 4 ? this.#built().overlapsV4(c.address, c.prefix) : this.#built().overlapsV6(c.groups, c.prefix);
  }

  /** Marks in `octets` every first IPv4 octet that one of the networks covers. */
  markFirstOctets(octets: Uint8Array): void {
    for (const n of this.#built().v4()) {
      const span = n.prefix >= 8 ? 1 : 1 << (8 - n.prefix);
      const first = (n.address >>> 24) & ~(span - 1) & 255;
      for (let o = first; o < first + span; o++) octets[o] = 1;
    }
  }
}

/** Domain lists by name: a listed domain covers its subdomains (domain/suffixtable.ts); on a name in several lists the first added wins. */
class DomainLists {
  readonly #arena = new KeyArena();
  readonly #names: WarningListName[] = [];

  add(domain: string, name: WarningListName): void {
    this.#names[this.#arena.add(domain.toLowerCase())] = name;
  }

  /** A lookup function over the domains added so far. */
  build(): (domain: string) => WarningListName | undefined {
    const count = this.#arena.count;
    const table = new ByteTable(this.#arena.bytes(), this.#arena.starts(), Array.from({ length: count }, (_, i) => i), count, true);
    const names = this.#names;
    return (domain) => {
      const id = longestSuffix(table, domain);
      return id < 0 ? undefined : names[id];
    };
  }
}

/** The first octet of a dotted-quad text, or -1. */
function firstOctet(v: string): number {
  let n = 0;
  for (let i = 0; i < 4; i++) {
    const c = v.charCodeAt(i);
    if (c === 46) return i === 0 ? -1 : n;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return -1;
}

/** True when the text after the `/` of a normalized CIDR is a prefix length of 8 or more. */
function prefixAtLeast8(v: string): boolean {
  const slash = v.indexOf('/');
  if (slash < 0) return false;
  const len = v.length - slash - 1;
  return len >= 2 || (len === 1 && v.charCodeAt(slash + 1) >= 56 && v.charCodeAt(slash + 1) <= 57);
}

function hostOfUrl(url: string): string {
  const start = url.indexOf('://') + 3;
  let end = start;
  while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  let host = url.slice(start, end);
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

function isIpLiteral(host: string): boolean {
  const c = host.charCodeAt(0);
  return host.includes(':') || (c >= 48 && c <= 57 && /^[0-9.]+$/.test(host));
}

/** Builds a WarningList from entries (pure apart from validation; throws FeedError on a bad entry). */
export function buildWarningList(data: WarningListData): WarningList {
  const reserved = new Ranges();
  for (const c of data.reservedCidrs) reserved.add(c, 'reserved ranges');
  const resolvers = new Ranges();
  for (const c of data.resolvers) resolvers.add(c, 'public resolvers');
  const resolverSet = new Set(data.resolvers.filter((r) => !r.includes('/')).map((r) => normalizeIp(r)));
  const specialOnly = new DomainLists();
  for (const d of data.specialDomains) specialOnly.add(d, 'special-domain');
  const special = specialOnly.build();
  const hashes = new Set(data.knownGoodHashes.map((h) => h.toLowerCase()));
  const allow = buildAllow([{ name: 'allowlist', entries: data.allow ?? [] }, ...(data.allowLists ?? [])]);
  // Most feed IPs start with an octet no listed network covers: answer those without parsing.
  const octets = new Uint8Array(256);
  for (const r of [reserved, resolvers, ...allow.ranges.map((l) => l.ranges)]) r.markFirstOctets(octets);
  const ipList = (v: string): WarningListName | undefined => {
    const o = firstOctet(v);
    if (o >= 0 && o < 256 && octets[o] === 0) return undefined;
    const a = parseNet(v);
    if (a === undefined) return undefined;
    return reserved.has(a) ? 'reserved-ip' : resolverSet.has(v) ? 'public-resolver' : allow.ranges.find((l) => l.ranges.has(a))?.name;
  };
  const cidrList = (v: string): WarningListName | undefined => {
    // A v4 network of /8 or longer lies inside its first octet: no listed network there, no overlap.
    const o = firstOctet(v);
    if (o >= 0 && o < 256 && octets[o] === 0 && prefixAtLeast8(v)) return undefined;
    const c = parseNet(v);
    if (c === undefined) return undefined;
    return reserved.overlaps(c) ? 'reserved-ip' : resolvers.overlaps(c) ? 'public-resolver' : allow.ranges.find((l) => l.ranges.overlaps(c))?.name;
  };
  // One table for every domain list; on a name in several lists the first added wins: special, top, allowlist.
  const domains = new DomainLists();
  for (const d of data.specialDomains) domains.add(d, 'special-domain');
  for (const d of data.topDomains) domains.add(d, 'top-domain');
  for (const [d, name] of allow.domains) domains.add(d, name);
  const domainList = domains.build();
  const urlList = (ind: Indicator): WarningListName | undefined => {
    const host = hostOfUrl(ind.value);
    const a = isIpLiteral(host) ? parseNet(host) : undefined;
    if (a !== undefined) return reserved.has(a) ? 'reserved-ip' : allowExact(allow.exact, ind);
    return special(host) ?? allowExact(allow.exact, ind);
  };
  return {
    match(ind: Indicator): WarningListName | undefined {
      switch (ind.type) {
        case 'ipv4':
        case 'ipv6':
          return ipList(ind.value);
        case 'cidr':
          return cidrList(ind.value);
        case 'domain':
          return domainList(ind.value);
        case 'url':
          return urlList(ind);
        default:
          return hashes.has(ind.value) ? 'known-good-hash' : allowExact(allow.exact, ind);
      }
    },
  };
}

function normalizeIp(raw: string): string {
  const r = normalize(raw.includes(':') ? 'ipv6' : 'ipv4', raw);
  if (!r.ok) throw new FeedError('bad-config', `public resolver list: "${raw}" is not an IP address`);
  return r.indicator.value;
}

function allowExact(exact: ReadonlyMap<string, WarningListName>, ind: Indicator): WarningListName | undefined {
  return exact.size > 0 ? exact.get(`${ind.type}:${ind.value}`) : undefined;
}

interface AllowIndex {
  /** Networks per list, in list order (the first list holding an address names the drop). */
  readonly ranges: Array<{ readonly name: WarningListName; readonly ranges: Ranges }>;
  readonly domains: Map<string, WarningListName>;
  readonly exact: Map<string, WarningListName>;
}

function buildAllow(lists: readonly NamedAllowlist[]): AllowIndex {
  const index: AllowIndex = { ranges: [], domains: new Map(), exact: new Map() };
  for (const list of lists) {
    if (list.entries.length === 0) continue;
    const ranges = new Ranges();
    for (const raw of list.entries) addAllowEntry(index, ranges, list.name, raw);
    index.ranges.push({ name: list.name, ranges });
  }
  return index;
}

function addAllowEntry(index: AllowIndex, ranges: Ranges, name: WarningListName, raw: string): void {
  const type = detectType(raw);
  const r = type === undefined ? undefined : normalize(type, raw);
  if (r === undefined || !r.ok) throw new FeedError('bad-config', `${name} entry "${raw.slice(0, 100)}" is not an IP, CIDR, domain, URL, hash or email address`);
  const ind = r.indicator;
  // On an entry in several lists the first list names the drop.
  if (ind.type === 'ipv4' || ind.type === 'ipv6' || ind.type === 'cidr') ranges.add(ind.value, name);
  else if (ind.type === 'domain') {
    if (!index.domains.has(ind.value)) index.domains.set(ind.value, name);
  } else if (!index.exact.has(`${ind.type}:${ind.value}`)) index.exact.set(`${ind.type}:${ind.value}`, name);
}

/** Parses a data file: one entry per line, '#' starts a comment. */
export function parseListFile(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const entry = (hash < 0 ? line : line.slice(0, hash)).trim();
    if (entry !== '') out.push(entry);
  }
  return out;
}

async function dataFile(name: string): Promise<string[]> {
  return parseListFile(await readFile(new URL(`./data/${name}`, import.meta.url), 'utf8'));
}

/**
 * Loads the shipped lists from ./data/ and adds `allow` (extra entries, reported as `allowlist`)
 * and `allowLists` (each reported under its own name, e.g. `allowlist:<configmap>`).
 */
export async function loadWarningLists(allow: readonly string[] = [], allowLists: readonly NamedAllowlist[] = []): Promise<WarningList> {
  return buildWarningList({ ...(await loadShippedLists()), allow, allowLists });
}

/** The shipped lists from ./data/ as raw entries, without extra allowlists (enforcement builds its own guard on them). */
export async function loadShippedLists(): Promise<WarningListData> {
  const [v4, v6, resolvers, specialDomains, topDomains, knownGoodHashes] = await Promise.all([
    dataFile('reserved-ipv4.txt'), dataFile('reserved-ipv6.txt'), dataFile('public-resolvers.txt'),
    dataFile('special-domains.txt'), dataFile('top-domains.txt'), dataFile('known-good-hashes.txt'),
  ]);
  return { reservedCidrs: [...v4, ...v6], resolvers, specialDomains, topDomains, knownGoodHashes };
}
