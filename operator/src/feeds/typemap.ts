/**
 * Maps the type labels feeds use (MISP attribute types, ThreatFox ioc_type, free-form names such
 * as "ip" or "hostname") to indicator types, including composite values: MISP `ip-dst|port`
 * and `domain|ip`, `filename|sha256`, ThreatFox `ip:port`.
 */
import { isIndicatorType, type IndicatorType } from '../domain/indicator.ts';

/** One value extracted from a typed feed entry. */
export interface TypedValue {
  readonly type: IndicatorType | undefined;
  readonly value: string;
}

/** The outcome of mapping a label: values to normalize, or a skip with a reason. */
export type MapOutcome = { readonly ok: true; readonly values: TypedValue[] } | { readonly ok: false; readonly skip: string };

type Mapper = (value: string) => TypedValue[];

const single = (type: IndicatorType | undefined): Mapper => (v) => [{ type, value: v }];
const ipAuto: Mapper = (v) => [{ type: ipType(v), value: v }];
const firstOfPipe = (type: IndicatorType | undefined): Mapper => (v) => [{ type: type ?? ipType(before(v, '|')), value: before(v, '|') }];
const secondOfPipe = (type: IndicatorType): Mapper => (v) => [{ type, value: after(v, '|') }];

function before(v: string, sep: string): string {
  const i = v.indexOf(sep);
  return i < 0 ? v : v.slice(0, i);
}

function after(v: string, sep: string): string {
  const i = v.indexOf(sep);
  return i < 0 ? v : v.slice(i + 1);
}

/** ipv4, ipv6 or cidr by shape (MISP ip-dst may hold any of them). */
function ipType(v: string): IndicatorType {
  if (v.includes('/')) return 'cidr';
  return v.includes(':') ? 'ipv6' : 'ipv4';
}

/** Strips a `:port` suffix from `1.2.3.4:443` or `[2001:db8::1]:443`; leaves bare IPv6 alone. */
export function stripPort(v: string): string {
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    return end < 0 ? v : v.slice(1, end);
  }
  const first = v.indexOf(':');
  if (first < 0 || first !== v.lastIndexOf(':')) return v;
  return v.slice(0, first);
}

/** MISP attribute types ThreatMesh ingests (see MISP's describeTypes); others are skipped. */
const MISP: ReadonlyMap<string, Mapper> = new Map<string, Mapper>([
  ['ip-dst', ipAuto], ['ip-src', ipAuto],
  ['ip-dst|port', firstOfPipe(undefined)], ['ip-src|port', firstOfPipe(undefined)],
  ['domain', single('domain')], ['hostname', single('domain')],
  ['hostname|port', firstOfPipe('domain')],
  ['domain|ip', (v) => [{ type: 'domain', value: before(v, '|') }, { type: ipType(after(v, '|')), value: after(v, '|') }]],
  ['url', single('url')],
  ['md5', single('md5')], ['sha1', single('sha1')], ['sha256', single('sha256')],
  ['filename|md5', secondOfPipe('md5')], ['filename|sha1', secondOfPipe('sha1')], ['filename|sha256', secondOfPipe('sha256')],
  ['email', single('email')], ['email-src', single('email')], ['email-dst', single('email')],
]);

/** ThreatFox `ioc_type` values (export and API). sha3_384_hash and others are skipped. */
const THREATFOX: ReadonlyMap<string, Mapper> = new Map<string, Mapper>([
  ['ip:port', (v) => { const ip = stripPort(v); return [{ type: ipType(ip), value: ip }]; }],
  ['domain', single('domain')],
  ['url', single('url')],
  ['md5_hash', single('md5')], ['sha1_hash', single('sha1')], ['sha256_hash', single('sha256')],
]);

/** Common free-form labels. */
const GENERIC: ReadonlyMap<string, Mapper> = new Map<string, Mapper>([
  ['ip', ipAuto], ['ip-address', ipAuto], ['ip_address', ipAuto], ['ipaddress', ipAuto], ['address', ipAuto],
  ['ipv4-addr', single('ipv4')], ['ipv6-addr', single('ipv6')], ['net', single('cidr')], ['network', single('cidr')], ['netblock', single('cidr')],
  ['fqdn', single('domain')], ['host', single('domain')], ['domain-name', single('domain')],
  ['uri', single('url')], ['link', single('url')],
  ['email-addr', single('email')], ['mail', single('email')],
  ['md5_hash', single('md5')], ['sha1_hash', single('sha1')], ['sha256_hash', single('sha256')],
  ['sha-1', single('sha1')], ['sha-256', single('sha256')],
]);

/** Which label vocabulary a feed uses. */
export type LabelVocabulary = 'misp' | 'threatfox' | 'generic';

const VOCABULARIES: Record<LabelVocabulary, ReadonlyMap<string, Mapper>> = { misp: MISP, threatfox: THREATFOX, generic: GENERIC };

/**
 * Maps a feed's type `label` and `value` to values to normalize. `custom` (a Feed's
 * mapping.typeMap) is consulted first and maps a label to an indicator type name; then the
 * vocabulary; then the indicator type names themselves, the generic labels, and the ThreatFox
 * and MISP names (so a generic JSON mapping of a ThreatFox-like feed works). Unknown labels
 * are a skip with reason `unsupported-type:<label>` (counted, never silent).
 */
export function mapTyped(label: string, value: string, vocabulary: LabelVocabulary = 'generic', custom?: Readonly<Record<string, string>>): MapOutcome {
  const key = label.trim().toLowerCase();
  const mapped = custom?.[label] ?? custom?.[key];
  if (mapped !== undefined) {
    return isIndicatorType(mapped) ? { ok: true, values: [{ type: mapped, value }] } : { ok: false, skip: `unsupported-type:${mapped}` };
  }
  const mapper = VOCABULARIES[vocabulary].get(key) ?? (isIndicatorType(key) ? single(key) : (GENERIC.get(key) ?? THREATFOX.get(key) ?? MISP.get(key)));
  if (mapper === undefined) return { ok: false, skip: `unsupported-type:${key.slice(0, 40)}` };
  return { ok: true, values: mapper(value) };
}
