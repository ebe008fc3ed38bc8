/**
 * Where a feed fetch may connect. A Feed names its URL, and its server names redirects, TAXII
 * API roots and DNS answers: none of them may make the operator's network reach its own inside
 * (loopback, private ranges, link-local with the cloud metadata service 169.254.169.254, and the
 * IPv6 forms that embed such an IPv4 address), unless the operator allows exactly those CIDRs.
 *
 * Host names are checked on the addresses they resolve to, inside the socket's own DNS lookup
 * ({@link guardedLookup}), so the address checked is the address connected to: a name that
 * resolves to 127.0.0.1, or re-resolves there after a first public answer, is refused too.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { ipv4Mask, parseCidr, parseIpv4, parseIpv6 } from '../domain/ip.ts';
import { FeedError } from './types.ts';

/** A network: IPv4 as one 32-bit number, IPv6 as eight 16-bit groups. */
type Net = { readonly v: 4; readonly address: number; readonly prefix: number } | { readonly v: 6; readonly groups: readonly number[]; readonly prefix: number };

/** IPv4 ranges a feed may not reach, with what they are (for the message). */
const INTERNAL_V4: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local, home of the cloud metadata service'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved or broadcast'],
];

/** IPv6 ranges a feed may not reach. */
const INTERNAL_V6: ReadonlyArray<readonly [string, string]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard-only'],
  ['fc00::/7', 'unique-local (private)'],
  ['fec0::/10', 'site-local'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

/** IPv6 ranges that carry an IPv4 address (which is what they reach): where it sits. */
const EMBEDDING_V6: ReadonlyArray<readonly [string, string, 'low32' | '6to4']> = [
  ['::ffff:0:0/96', 'IPv4-mapped', 'low32'],
  ['::/96', 'IPv4-compatible', 'low32'],
  ['64:ff9b::/96', 'NAT64', 'low32'],
  ['64:ff9b:1::/48', 'local NAT64', 'low32'],
  ['2002::/16', '6to4', '6to4'],
];

function net(cidr: string, what: string): Net {
  const c = parseCidr(cidr);
  if (!c.ok) throw new FeedError('bad-config', `${what}: "${cidr}" is not a CIDR such as 10.20.0.0/16 or fd00::/8 (${c.message})`);
  return c.family === 4 ? { v: 4, address: c.address, prefix: c.prefix } : { v: 6, groups: c.groups, prefix: c.prefix };
}

function contains(n: Net, a: Net): boolean {
  if (n.v === 4 && a.v === 4) {
    const m = ipv4Mask(n.prefix);
    return ((n.address & m) >>> 0) === ((a.address & m) >>> 0);
  }
  if (n.v !== 6 || a.v !== 6) return false;
  let bits = n.prefix;
  for (let k = 0; k < 8 && bits > 0; k++, bits -= 16) {
    const m = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((n.groups[k] ?? 0) & m) !== ((a.groups[k] ?? 0) & m)) return false;
  }
  return true;
}

const internal4 = INTERNAL_V4.map(([c, what]) => ({ net: net(c, 'internal ranges'), what }));
const internal6 = INTERNAL_V6.map(([c, what]) => ({ net: net(c, 'internal ranges'), what }));
const embedding6 = EMBEDDING_V6.map(([c, what, where]) => ({ net: net(c, 'internal ranges'), what, where }));

/** The IPv4 address an IPv6 address of an embedding range carries, or undefined. */
function embeddedV4(a: Net & { v: 6 }): { address: Net; how: string } | undefined {
  for (const e of embedding6) {
    if (!contains(e.net, a)) continue;
    const [hi, lo] = e.where === 'low32' ? [a.groups[6] ?? 0, a.groups[7] ?? 0] : [a.groups[1] ?? 0, a.groups[2] ?? 0];
    return { address: { v: 4, address: ((hi << 16) | lo) >>> 0, prefix: 32 }, how: e.what };
  }
  return undefined;
}

function parseAddress(ip: string): Net | undefined {
  if (isIP(ip) === 4) {
    const p = parseIpv4(ip);
    return p.ok ? { v: 4, address: p.address, prefix: 32 } : undefined;
  }
  const p = parseIpv6(ip.startsWith('[') ? ip.slice(1, -1) : ip);
  return p.ok ? { v: 6, groups: p.groups, prefix: 128 } : undefined;
}

/** Which addresses a feed fetch may connect to. */
export interface DestinationPolicy {
  /** Why a fetch may not connect to `ip` (an IP literal), or undefined when it may. */
  refusal(ip: string): string | undefined;
  /** The allowed internal CIDRs, as given. */
  readonly allowed: readonly string[];
}

/**
 * The policy that refuses internal addresses except those inside `allowInternal` (CIDRs, e.g.
 * `10.20.0.0/16`, `127.0.0.1/32`). Throws FeedError('bad-config') naming a CIDR that does not
 * parse.
 */
export function destinationPolicy(allowInternal: readonly string[] = []): DestinationPolicy {
  const allowed = allowInternal.map((c) => net(c.trim(), '--allow-internal-feeds'));
  const isAllowed = (a: Net): boolean => allowed.some((n) => contains(n, a));
  const hint = 'start the operator (or threatmesh ingest) with --allow-internal-feeds CIDR if this feed is really served from inside your network';
  return {
    allowed: allowInternal,
    refusal(ip: string): string | undefined {
      const a = parseAddress(ip);
      if (a === undefined) return `${ip} is not an IP address`;
      if (isAllowed(a)) return undefined;
      const direct = (a.v === 4 ? internal4 : internal6).find((r) => contains(r.net, a));
      if (direct !== undefined) return `${ip} is ${direct.what}; feeds may not reach internal addresses: ${hint}`;
      if (a.v === 6) {
        const inner = embeddedV4(a);
        const hit = inner === undefined || isAllowed(inner.address) ? undefined : internal4.find((r) => contains(r.net, inner.address));
        if (hit !== undefined) return `${ip} is an ${inner?.how ?? ''} form of an IPv4 address that is ${hit.what}; feeds may not reach internal addresses: ${hint}`;
      }
      return undefined;
    },
  };
}

/**
 * The FeedError('forbidden-destination') for `host` (a URL's hostname) when it is an IP literal
 * the policy refuses, else undefined; names are checked at connect time by {@link guardedLookup}.
 */
export function hostRefusal(policy: DestinationPolicy, host: string): FeedError | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 0) return undefined;
  const why = policy.refusal(bare);
  return why === undefined ? undefined : new FeedError('forbidden-destination', `refusing to fetch from ${host}: ${why}`);
}

/**
 * A `lookup` for http(s).request that resolves like dns.lookup and fails with
 * FeedError('forbidden-destination') when any address of the answer is refused, so the socket
 * never connects to it.
 */
export function guardedLookup(policy: DestinationPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const all: LookupAllOptions = { ...options, all: true };
    dnsLookup(hostname, all, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err !== null) {
        callback(err, '', 0);
        return;
      }
      const bad = addresses.map((a) => ({ a, why: policy.refusal(a.address) })).find((x) => x.why !== undefined);
      if (bad !== undefined) {
        callback(new FeedError('forbidden-destination', `refusing to connect to ${hostname}: its address ${bad.why ?? ''}`), '', 0);
        return;
      }
      if (options.all === true) (callback as unknown as (e: null, list: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
    });
  };
}
