/**
 * Warning lists: indicators that must never be proposed for blocking, however many feeds list
 * them — private and reserved address ranges (IANA special-purpose registries), public DNS
 * resolvers, special-use domain names, the most popular domains (and their subdomains), and
 * known-good hashes (the empty file). The shipped lists are data files under ./data/; a Feed's
 * operator can add allowlist entries (from a ConfigMap, read by the caller).
 */
import { readFile } from 'node:fs/promises';
import { BlockList } from 'node:net';
import { detectType, normalize, type Indicator } from '../domain/indicator.ts';
import { FeedError } from './types.ts';

/** Names of the lists, as reported in run reports. */
export type WarningListName = 'reserved-ip' | 'public-resolver' | 'special-domain' | 'top-domain' | 'known-good-hash' | 'allowlist';

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
}

interface Net {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
}

/** One BlockList per family: node's BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules, which would make ::ffff:0:0/96 match every IPv4 address. */
class Ranges {
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();
  readonly nets: Net[] = [];

  private listOf(family: 'ipv4' | 'ipv6'): BlockList {
    return family === 'ipv4' ? this.v4 : this.v6;
  }

  add(cidr: string, source: string): void {
    const slash = cidr.indexOf('/');
    const address = slash < 0 ? cidr : cidr.slice(0, slash);
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    const prefix = slash < 0 ? (family === 'ipv4' ? 32 : 128) : Number(cidr.slice(slash + 1));
    try {
      this.listOf(family).addSubnet(address, prefix, family);
    } catch {
      throw new FeedError('bad-config', `warning list ${source}: "${cidr}" is not an IP address or CIDR`);
    }
    this.nets.push({ family, address, prefix });
  }

  hasAddress(address: string): boolean {
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    return this.listOf(family).check(address, family);
  }

  /** True when the CIDR overlaps any range (contains one, or lies inside one). */
  overlaps(cidr: string): boolean {
    const slash = cidr.indexOf('/');
    const address = cidr.slice(0, slash);
    const prefix = Number(cidr.slice(slash + 1));
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    if (this.listOf(family).check(address, family)) return true;
    const candidate = new BlockList();
    candidate.addSubnet(address, prefix, family);
    return this.nets.some((n) => n.family === family && candidate.check(n.address, family));
  }
}

function domainIn(set: ReadonlySet<string>, domain: string): boolean {
  let d = domain;
  for (;;) {
    if (set.has(d)) return true;
    const dot = d.indexOf('.');
    if (dot < 0) return false;
    d = d.slice(dot + 1);
  }
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
  const special = new Set(data.specialDomains.map((d) => d.toLowerCase()));
  const top = new Set(data.topDomains.map((d) => d.toLowerCase()));
  const hashes = new Set(data.knownGoodHashes.map((h) => h.toLowerCase()));
  const allow = buildAllow(data.allow ?? []);
  const ipList = (v: string): WarningListName | undefined =>
    reserved.hasAddress(v) ? 'reserved-ip' : resolvers.hasAddress(v) ? 'public-resolver' : allow.ranges.hasAddress(v) ? 'allowlist' : undefined;
  const domainList = (d: string): WarningListName | undefined =>
    domainIn(special, d) ? 'special-domain' : domainIn(top, d) ? 'top-domain' : domainIn(allow.domains, d) ? 'allowlist' : undefined;
  const urlList = (ind: Indicator): WarningListName | undefined => {
    const host = hostOfUrl(ind.value);
    if (isIpLiteral(host)) return reserved.hasAddress(host) ? 'reserved-ip' : allowExact(allow.exact, ind);
    return domainIn(special, host) ? 'special-domain' : allowExact(allow.exact, ind);
  };
  return {
    match(ind: Indicator): WarningListName | undefined {
      switch (ind.type) {
        case 'ipv4':
        case 'ipv6':
          return ipList(ind.value);
        case 'cidr':
          return reserved.overlaps(ind.value) ? 'reserved-ip' : resolvers.overlaps(ind.value) ? 'public-resolver' : allow.ranges.overlaps(ind.value) ? 'allowlist' : undefined;
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

function allowExact(exact: ReadonlySet<string>, ind: Indicator): WarningListName | undefined {
  return exact.size > 0 && exact.has(`${ind.type}:${ind.value}`) ? 'allowlist' : undefined;
}

function buildAllow(entries: readonly string[]): { ranges: Ranges; domains: Set<string>; exact: Set<string> } {
  const ranges = new Ranges();
  const domains = new Set<string>();
  const exact = new Set<string>();
  for (const raw of entries) {
    const type = detectType(raw);
    const r = type === undefined ? undefined : normalize(type, raw);
    if (r === undefined || !r.ok) throw new FeedError('bad-config', `allowlist entry "${raw.slice(0, 100)}" is not an IP, CIDR, domain, URL, hash or email address`);
    const ind = r.indicator;
    if (ind.type === 'ipv4' || ind.type === 'ipv6' || ind.type === 'cidr') ranges.add(ind.value, 'allowlist');
    else if (ind.type === 'domain') domains.add(ind.value);
    else exact.add(`${ind.type}:${ind.value}`);
  }
  return { ranges, domains, exact };
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

/** Loads the shipped lists from ./data/ and adds `allow` (extra allowlist entries from a ConfigMap). */
export async function loadWarningLists(allow: readonly string[] = []): Promise<WarningList> {
  const [v4, v6, resolvers, specialDomains, topDomains, knownGoodHashes] = await Promise.all([
    dataFile('reserved-ipv4.txt'), dataFile('reserved-ipv6.txt'), dataFile('public-resolvers.txt'),
    dataFile('special-domains.txt'), dataFile('top-domains.txt'), dataFile('known-good-hashes.txt'),
  ]);
  return buildWarningList({ reservedCidrs: [...v4, ...v6], resolvers, specialDomains, topDomains, knownGoodHashes, allow });
}
