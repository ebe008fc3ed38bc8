/**
 * Generators of indicator-like text: addresses, networks, host names, URLs, e-mail addresses
 * and hashes in the spellings feeds really use (defanged, upper-case, zero-padded, bracketed,
 * IDN, trailing dots, ports, userinfo, percent-encoding) and in broken ones.
 */
import { INDICATOR_TYPES, type IndicatorType } from '../operator/src/domain/indicator.ts';
import { mutate, randomText } from './mutate.ts';
import type { Rng } from './rng.ts';

const LABELS = ['evil', 'c2', 'example', 'xn--80ak6aa92e', 'bücher', 'EXAMPLE', 'a', 'x'.repeat(63), 'x'.repeat(64), 'sub-domain', '-bad', 'bad-', '_srv', 'localhost', 'münchen', 'ｅｘａｍｐｌｅ', '0', '123', 'xn--', 'xn--a'];
const TLDS = ['com', 'org', 'net', 'example', 'io', 'ru', 'xn--p1ai', 'рф', 'COM', 'local', 'onion', 'co.uk', 'test', '1', 'c0m'];
const SCHEMES = ['http', 'https', 'hxxp', 'hxxps', 'HTTP', 'ftp', 'ws', 'h__p', 'fxp', 'file', 'data', 'javascript', ''];
const DEFANGS = ['[.]', '(.)', '{.}', '[dot]', ' dot ', '[:]', '[://]', '[at]', '[@]', '\\.', '.', '[[.]]', '(.\\)', '((dot))'];
const HEX = '0123456789abcdefABCDEF';

/** An IPv4 address in one of many spellings. */
export function genIpv4(rng: Rng): string {
  const parts = Array.from({ length: rng.chance(0.9) ? 4 : rng.range(1, 6) }, () => {
    const k = rng.int(10);
    if (k < 6) return String(rng.int(256));
    if (k === 6) return '0' + String(rng.int(256));
    if (k === 7) return '0x' + rng.int(256).toString(16);
    if (k === 8) return String(rng.range(256, 99999));
    return rng.pick(['', '00', '-1', '1e2', ' 1', '٣']);
  });
  return parts.join(rng.chance(0.9) ? '.' : rng.pick(['[.]', '(.)', ',', '..']));
}

/** An IPv6 address, compressed or not, sometimes mapped, zoned or bracketed. */
export function genIpv6(rng: Rng): string {
  const groups = Array.from({ length: rng.chance(0.8) ? 8 : rng.range(1, 9) }, () => rng.int(0x10000).toString(16).padStart(rng.chance(0.3) ? 4 : 1, '0'));
  if (rng.chance(0.2)) groups.splice(6, 2, genIpv4(rng));
  let s = groups.join(':');
  if (rng.chance(0.5)) {
    const a = rng.int(groups.length);
    const b = Math.min(groups.length, a + rng.range(1, 4));
    s = groups.slice(0, a).join(':') + '::' + groups.slice(b).join(':');
  }
  if (rng.chance(0.2)) s = s.toUpperCase();
  if (rng.chance(0.05)) s += '%eth0';
  if (rng.chance(0.1)) s = `[${s}]`;
  return s;
}

/** A network in CIDR notation (v4 or v6), prefix sometimes out of range or host bits set. */
export function genCidr(rng: Rng): string {
  const v6 = rng.chance(0.4);
  const prefix = rng.chance(0.9) ? String(rng.int(v6 ? 129 : 33)) : rng.pick(['', '-1', '999', '08', 'x', '24 ']);
  return `${v6 ? genIpv6(rng) : genIpv4(rng)}/${prefix}`;
}

/** A host name with IDN, case and trailing-dot variations. */
export function genDomain(rng: Rng): string {
  const n = rng.range(1, 4);
  const labels = Array.from({ length: n }, () => rng.chance(0.85) ? rng.pick(LABELS) : randomText(rng, ['-', '.', 'xn--'], 5));
  let s = `${labels.join('.')}.${rng.pick(TLDS)}`;
  if (rng.chance(0.1)) s += '.';
  if (rng.chance(0.1)) s = s.replaceAll('.', rng.pick(DEFANGS));
  if (rng.chance(0.05)) s = '*.' + s;
  return s;
}

function genHost(rng: Rng): string {
  const k = rng.int(10);
  if (k < 6) return genDomain(rng);
  if (k < 8) return genIpv4(rng);
  return `[${genIpv6(rng).replace(/^\[|\]$/g, '')}]`;
}

/** A URL: scheme (defanged too), userinfo, host, port, path, query and fragment. */
export function genUrl(rng: Rng): string {
  const scheme = rng.pick(SCHEMES);
  const sep = rng.chance(0.9) ? '://' : rng.pick(['[://]', ':/', ':', '//', ':\\\\']);
  const user = rng.chance(0.1) ? `${rng.pick(['user', 'a:b', '@', '%40'])}@` : '';
  const port = rng.chance(0.2) ? `:${rng.pick(['80', '443', '8080', '0', '65535', '65536', '', 'x', '00080'])}` : '';
  const segs = Array.from({ length: rng.small(5) }, () => rng.pick(['a', '..', '.', '%2e%2e', 'index.php', 'A B', '%7e', '~user', 'ü', '%zz', '%41', '', 'x'.repeat(rng.small(200))]));
  const path = segs.length > 0 ? '/' + segs.join('/') : rng.chance(0.5) ? '/' : '';
  const query = rng.chance(0.3) ? `?${rng.pick(['a=1&b=2', 'q=%20', '', 'x=ü', 'a=1#b'])}` : '';
  const frag = rng.chance(0.1) ? `#${rng.pick(['top', '', 'ü'])}` : '';
  return `${scheme}${scheme === '' ? '' : sep}${user}${genHost(rng)}${port}${path}${query}${frag}`;
}

/** An e-mail address. */
export function genEmail(rng: Rng): string {
  const local = rng.pick(['john', 'John.Doe', 'a+b', '"quoted"', 'x'.repeat(rng.range(1, 70)), '', '.a', 'a..b', 'ü']);
  return `${local}${rng.pick(['@', '[at]', '[@]', ' at ', '@@'])}${genDomain(rng)}`;
}

/** A hex hash of `len` digits, sometimes with the wrong length or case or non-hex digits. */
export function genHash(rng: Rng, len: number): string {
  const l = rng.chance(0.85) ? len : rng.range(0, 70);
  let s = '';
  for (let i = 0; i < l; i++) s += rng.chance(0.99) ? HEX[rng.int(HEX.length)] : rng.pick(['g', 'z', ' ', '-']);
  return s;
}

/** A raw value meant as `type`. */
export function genRaw(rng: Rng, type: IndicatorType): string {
  switch (type) {
    case 'ipv4': return genIpv4(rng);
    case 'ipv6': return genIpv6(rng);
    case 'cidr': return genCidr(rng);
    case 'domain': return genDomain(rng);
    case 'url': return genUrl(rng);
    case 'email': return genEmail(rng);
    case 'md5': return genHash(rng, 32);
    case 'sha1': return genHash(rng, 40);
    case 'sha256': return genHash(rng, 64);
  }
}

/** A value of a random type (or random text), sometimes mutated, with surrounding space. */
export function genValue(rng: Rng): { readonly type: IndicatorType; readonly raw: string } {
  const type = rng.pick(INDICATOR_TYPES);
  let raw = genRaw(rng, type);
  if (rng.chance(0.25)) raw = mutate(rng, raw, ['.', ':', '/', '[.]', '%', '@', '[', ']', '::', '0x', 'xn--', '\\']);
  if (rng.chance(0.05)) raw = ` ${raw}\t`;
  return { type, raw };
}
