/**
 * Flat exports of served indicators, pure: Suricata (datasets for domains, URLs and SHA-1;
 * hash lists for filemd5/filesha1/filesha256; IP reputation with its categories file; rules
 * that use them and that match IPs and CIDRs directly), the Zeek Intel framework file, CSV,
 * and plain lists per type. Input is a list of {@link ExportItem}s in log order; every format
 * is deterministic for the same input, so ETags are stable.
 */
import { partnerIdentityId } from './stixview.ts';
import type { Tlp } from './tlp.ts';

/** One indicator as exports see it. */
export interface ExportItem {
  /** `add` for an indicator in force, `remove` for a revoked one (incremental exports only). */
  readonly action: 'add' | 'remove';
  readonly type: string;
  readonly value: string;
  readonly tlp: Tlp;
  readonly confidence?: number;
  readonly labels?: readonly string[];
  readonly validFrom?: string;
  readonly validUntil?: string;
  readonly source?: string;
  readonly stixId: string;
  readonly logIndex: number;
  readonly proposerId: string;
  /** Seconds since the epoch when this partner stored it. */
  readonly addedAt: number;
}

/** An export file: its path under /exports/ and the item types it takes. */
export interface ExportFile {
  readonly path: string;
  readonly contentType: string;
  /** Renders the file from the items (only `add` items unless the format carries removals). */
  render(items: readonly ExportItem[], header: ExportHeader): string;
}

/** What every file states about itself. */
export interface ExportHeader {
  readonly partnerId: string;
  /** The export cursor of this content (log position). */
  readonly cursor: string;
  readonly tlps: readonly Tlp[];
}

const TEXT = 'text/plain; charset=utf-8';
const adds = (items: readonly ExportItem[], types: readonly string[]): ExportItem[] => items.filter((i) => i.action === 'add' && types.includes(i.type));
const banner = (h: ExportHeader, what: string): string => `# ThreatMesh ${what} from partner ${h.partnerId}; TLP ${h.tlps.join(',')}; cursor ${h.cursor}\n`;

function lines(values: readonly string[]): string {
  return values.length === 0 ? '' : `${values.join('\n')}\n`;
}

/** Suricata `string` datasets hold base64 of each value. */
function datasetFile(path: string, types: readonly string[]): ExportFile {
  return { path, contentType: TEXT, render: (items) => lines(adds(items, types).map((i) => Buffer.from(i.value, 'utf8').toString('base64'))) };
}

function hexList(path: string, type: string): ExportFile {
  return { path, contentType: TEXT, render: (items) => lines(adds(items, [type]).map((i) => i.value)) };
}

/** The Suricata IP reputation category this partner's indicators go in (categories file id 1). */
export const IPREP_CATEGORY = { id: 1, name: 'ThreatMesh', description: 'ThreatMesh quorum-signed indicators' } as const;

function iprepScore(i: ExportItem): number {
  return Math.max(1, Math.min(127, Math.round(((i.confidence ?? 50) * 127) / 100)));
}

const IP_TYPES = ['ipv4', 'ipv6', 'cidr'];
const RULE_GROUP = 50;
/** Base of the signature ids of generated rules (a private range). */
export const SID_BASE = 9_700_000;

function rule(sid: number, proto: string, body: string, msg: string): string {
  return `alert ${proto} (msg:"${msg}"; ${body}classtype:trojan-activity; sid:${sid}; rev:1; metadata:created_by threatmesh;)`;
}

function suricataRules(items: readonly ExportItem[], h: ExportHeader): string {
  const fixed: Array<[string, string, string]> = [
    ['dns $HOME_NET any -> any any', 'dns.query; dataset:isset,threatmesh-domains,type string,load threatmesh-domains.lst; ', 'ThreatMesh listed domain (DNS query)'],
    ['tls $HOME_NET any -> any any', 'tls.sni; dataset:isset,threatmesh-domains,type string,load threatmesh-domains.lst; ', 'ThreatMesh listed domain (TLS SNI)'],
    ['http $HOME_NET any -> any any', 'http.host; dataset:isset,threatmesh-domains,type string,load threatmesh-domains.lst; ', 'ThreatMesh listed domain (HTTP host)'],
    ['http any any -> any any', 'filemd5:threatmesh-md5.lst; ', 'ThreatMesh listed file (MD5)'],
    ['http any any -> any any', 'filesha1:threatmesh-sha1.lst; ', 'ThreatMesh listed file (SHA-1)'],
    ['http any any -> any any', 'filesha256:threatmesh-sha256.lst; ', 'ThreatMesh listed file (SHA-256)'],
    ['ip $HOME_NET any -> any any', `iprep:dst,${IPREP_CATEGORY.name},>,0; `, 'ThreatMesh listed address (IP reputation)'],
  ];
  const out: string[] = [banner(h, 'Suricata rules').trimEnd(), ...fixed.map(([proto, body, msg], i) => rule(SID_BASE + 1 + i, proto, body, msg))];
  const ips = adds(items, IP_TYPES).map((i) => i.value);
  for (let k = 0; k < ips.length; k += RULE_GROUP) {
    out.push(rule(SID_BASE + 1000 + k / RULE_GROUP, `ip $HOME_NET any -> [${ips.slice(k, k + RULE_GROUP).join(',')}] any`, '', 'ThreatMesh listed address'));
  }
  return lines(out);
}

/** The Suricata files (mount them as the rules directory; docs/serve.md has the suricata.yaml lines). */
export const SURICATA_FILES: readonly ExportFile[] = [
  datasetFile('suricata/threatmesh-domains.lst', ['domain']),
  datasetFile('suricata/threatmesh-urls.lst', ['url']),
  hexList('suricata/threatmesh-md5.lst', 'md5'),
  hexList('suricata/threatmesh-sha1.lst', 'sha1'),
  hexList('suricata/threatmesh-sha256.lst', 'sha256'),
  { path: 'suricata/threatmesh-iprep.list', contentType: TEXT, render: (items) => lines(adds(items, IP_TYPES).map((i) => `${i.value},${IPREP_CATEGORY.id},${iprepScore(i)}`)) },
  { path: 'suricata/threatmesh-categories.txt', contentType: TEXT, render: () => `${IPREP_CATEGORY.id},${IPREP_CATEGORY.name},${IPREP_CATEGORY.description}\n` },
  { path: 'suricata/threatmesh.rules', contentType: TEXT, render: suricataRules },
];

const ZEEK_TYPES: Readonly<Record<string, string>> = {
  ipv4: 'Intel::ADDR', ipv6: 'Intel::ADDR', cidr: 'Intel::SUBNET', domain: 'Intel::DOMAIN', url: 'Intel::URL', email: 'Intel::EMAIL', md5: 'Intel::FILE_HASH', sha1: 'Intel::FILE_HASH', sha256: 'Intel::FILE_HASH',
};

/** Zeek fields may hold no tabs or newlines; `-` is Zeek's empty field. */
function zeekField(s: string | undefined): string {
  const v = (s ?? '').replace(/[\t\r\n]+/g, ' ').trim();
  return v === '' ? '-' : v;
}

function zeekIntel(items: readonly ExportItem[], h: ExportHeader): string {
  const rows = adds(items, Object.keys(ZEEK_TYPES)).map((i) => {
    // Zeek matches URLs without their scheme.
    const value = i.type === 'url' ? i.value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '') : i.value;
    const desc = [`tlp:${i.tlp}`, ...(i.confidence === undefined ? [] : [`confidence:${i.confidence}`]), ...(i.labels ?? [])].join(',');
    return [zeekField(value), ZEEK_TYPES[i.type], zeekField(`threatmesh:${i.source ?? i.proposerId}`), zeekField(desc), zeekField(i.stixId)].join('\t');
  });
  return `${banner(h, 'Zeek Intel')}#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n${lines(rows)}`;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV columns; `action` is `add` or (incremental exports) `remove`. */
export const CSV_COLUMNS = ['action', 'type', 'value', 'tlp', 'confidence', 'labels', 'valid_from', 'valid_until', 'source', 'stix_id', 'log_index', 'created_by_ref'] as const;

function csv(items: readonly ExportItem[]): string {
  const rows = items.map((i) => [i.action, i.type, i.value, i.tlp, i.confidence === undefined ? '' : String(i.confidence), (i.labels ?? []).join(';'), i.validFrom ?? '', i.validUntil ?? '', i.source ?? '', i.stixId, String(i.logIndex), partnerIdentityId(i.proposerId)].map(csvField).join(','));
  return `${CSV_COLUMNS.join(',')}\n${lines(rows)}`;
}

/** Indicator types that have a plain list. */
export const LIST_TYPES = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256'] as const;

/** Zeek, CSV and plain-list files. */
export const OTHER_FILES: readonly ExportFile[] = [
  { path: 'zeek/threatmesh.intel', contentType: TEXT, render: zeekIntel },
  { path: 'csv/indicators.csv', contentType: 'text/csv; charset=utf-8', render: csv },
  ...LIST_TYPES.map((t): ExportFile => ({ path: `lists/${t}.txt`, contentType: TEXT, render: (items) => lines(adds(items, [t]).map((i) => i.value)) })),
];
