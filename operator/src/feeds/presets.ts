/**
 * Ready mappings for well-known public feeds. Column layouts follow the published files:
 * abuse.ch puts the CSV header inside a `#` comment, so those presets name the columns
 * explicitly and treat every `#` line as a comment (a preset that trusted a header row would
 * take the first data row as the header).
 *
 * - urlhaus: https://urlhaus.abuse.ch/downloads/csv_recent/ — `id,dateadded,url,url_status,
 *   last_online,threat,tags,urlhaus_link,reporter`, all fields quoted.
 * - feodo: https://feodotracker.abuse.ch/downloads/ipblocklist.csv — `first_seen_utc,dst_ip,
 *   dst_port,c2_status,last_online,malware`; feodo-json: ipblocklist.json, an array of objects
 *   with ip_address, port, status, hostname, as_number, as_name, country, first_seen,
 *   last_online, malware.
 * - threatfox: https://threatfox.abuse.ch/export/json/recent/ — an object keyed by IOC id, each
 *   an array of objects with ioc_value, ioc_type (ip:port, domain, url, md5_hash, sha1_hash,
 *   sha256_hash ...), threat_type, malware, malware_printable, first_seen_utc, confidence_level,
 *   tags, reporter.
 * - spamhaus-drop / spamhaus-edrop / spamhaus-dropv6: classic text lists, `CIDR ; SBLnnn` with
 *   `;` comment lines (Spamhaus also publishes JSON-lines drop_v4.json; use format jsonl with
 *   value field `cidr` for that).
 * - et-compromised: https://rules.emergingthreats.net/blockrules/compromised-ips.txt — one IPv4
 *   per line.
 * - openphish: https://openphish.com/feed.txt — one URL per line.
 * - blocklist-de: https://lists.blocklist.de/lists/all.txt — one IP (v4 or v6) per line.
 */
import type { DelimitedOptions } from './delimited.ts';
import type { JsonItemMapping, JsonOptions } from './json.ts';
import type { LinesOptions } from './lines.ts';
import type { Tlp } from '../domain/stix.ts';

/** How a payload is parsed. */
export type ParserConfig =
  | { readonly format: 'csv'; readonly csv: DelimitedOptions }
  | { readonly format: 'lines'; readonly lines: LinesOptions }
  | { readonly format: 'json'; readonly json: JsonOptions }
  | { readonly format: 'jsonl'; readonly json: JsonItemMapping }
  | { readonly format: 'stix' }
  | { readonly format: 'misp' }
  | { readonly format: 'taxii' };

/** A named preset: where the feed is, how to parse it, and sensible Feed defaults. */
export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  readonly parser: ParserConfig;
  readonly interval: string;
  readonly defaults: { readonly confidence: number; readonly tlp: Tlp; readonly labels: readonly string[]; readonly validFor: string };
}

const URLHAUS_COLUMNS = ['id', 'dateadded', 'url', 'url_status', 'last_online', 'threat', 'tags', 'urlhaus_link', 'reporter'] as const;
const FEODO_COLUMNS = ['first_seen_utc', 'dst_ip', 'dst_port', 'c2_status', 'last_online', 'malware'] as const;

const spamhaus = (name: string, file: string, what: string): Preset => ({
  name,
  description: `Spamhaus ${what}: netblocks controlled by criminals (CIDR ; SBL id).`,
  url: `https://www.spamhaus.org/drop/${file}`,
  parser: { format: 'lines', lines: { type: 'cidr', comment: [';', '#'] } },
  interval: '12h',
  defaults: { confidence: 90, tlp: 'clear', labels: ['spamhaus-drop'], validFor: '7d' },
});

/** Every preset, by name. */
export const PRESETS: Readonly<Record<string, Preset>> = {
  urlhaus: {
    name: 'urlhaus',
    description: 'abuse.ch URLhaus recent malware distribution URLs (CSV, header in a # comment).',
    url: 'https://urlhaus.abuse.ch/downloads/csv_recent/',
    parser: { format: 'csv', csv: { columns: URLHAUS_COLUMNS, comment: ['#'], value: 'url', type: 'url' } },
    interval: '15m',
    defaults: { confidence: 80, tlp: 'clear', labels: ['malware-download'], validFor: '30d' },
  },
  feodo: {
    name: 'feodo',
    description: 'abuse.ch Feodo Tracker botnet C2 IP blocklist (CSV, header in a # comment).',
    url: 'https://feodotracker.abuse.ch/downloads/ipblocklist.csv',
    parser: { format: 'csv', csv: { columns: FEODO_COLUMNS, comment: ['#'], value: 'dst_ip', type: 'ipv4' } },
    interval: '1h',
    defaults: { confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validFor: '30d' },
  },
  'feodo-json': {
    name: 'feodo-json',
    description: 'abuse.ch Feodo Tracker botnet C2 IP blocklist (JSON array of objects).',
    url: 'https://feodotracker.abuse.ch/downloads/ipblocklist.json',
    parser: { format: 'json', json: { itemsPath: '[*]', valueField: 'ip_address', type: 'ipv4' } },
    interval: '1h',
    defaults: { confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validFor: '30d' },
  },
  threatfox: {
    name: 'threatfox',
    description: 'abuse.ch ThreatFox recent IOCs (JSON export keyed by IOC id; ip:port becomes the IP).',
    url: 'https://threatfox.abuse.ch/export/json/recent/',
    parser: { format: 'json', json: { itemsPath: '*[*]', valueField: 'ioc_value', typeField: 'ioc_type', vocabulary: 'threatfox' } },
    interval: '1h',
    defaults: { confidence: 75, tlp: 'clear', labels: ['threatfox'], validFor: '30d' },
  },
  'spamhaus-drop': spamhaus('spamhaus-drop', 'drop.txt', 'DROP (Don\'t Route Or Peer)'),
  'spamhaus-edrop': spamhaus('spamhaus-edrop', 'edrop.txt', 'EDROP (extended DROP)'),
  'spamhaus-dropv6': spamhaus('spamhaus-dropv6', 'dropv6.txt', 'DROPv6'),
  'et-compromised': {
    name: 'et-compromised',
    description: 'Proofpoint Emerging Threats compromised hosts (one IPv4 per line).',
    url: 'https://rules.emergingthreats.net/blockrules/compromised-ips.txt',
    parser: { format: 'lines', lines: { type: 'ipv4' } },
    interval: '6h',
    defaults: { confidence: 60, tlp: 'clear', labels: ['compromised-host'], validFor: '7d' },
  },
  openphish: {
    name: 'openphish',
    description: 'OpenPhish community phishing URLs (one URL per line).',
    url: 'https://openphish.com/feed.txt',
    parser: { format: 'lines', lines: { type: 'url', comment: ['#'] } },
    interval: '1h',
    defaults: { confidence: 70, tlp: 'clear', labels: ['phishing'], validFor: '7d' },
  },
  'blocklist-de': {
    name: 'blocklist-de',
    description: 'blocklist.de attackers of the last 48 hours (one IPv4 or IPv6 per line).',
    url: 'https://lists.blocklist.de/lists/all.txt',
    parser: { format: 'lines', lines: {} },
    interval: '6h',
    defaults: { confidence: 50, tlp: 'clear', labels: ['attacker'], validFor: '2d' },
  },
};

/** The preset called `name`, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
}
