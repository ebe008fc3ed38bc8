/**
 * A MISP feed of served indicators (the layout MISP's "Fetch and store all feed data" reads):
 * `manifest.json` (event uuid → event summary), `hashes.csv` (MD5 of each attribute value, event
 * uuid) and one `<uuid>.json` per event. One event per TLP level holds that level's indicators,
 * tagged `tlp:<level>`; uuids are UUIDv5, so the same partner publishes the same events and
 * attributes on every export and MISP updates them in place. Pure.
 */
import { hash } from 'node:crypto';
import { STIX_ID_NAMESPACE, uuidV5 } from '../domain/stix.ts';
import type { ExportItem } from './exportformats.ts';
import { TLP_LEVELS, type Tlp } from './tlp.ts';

const MISP_TYPES: Readonly<Record<string, { type: string; category: string }>> = {
  ipv4: { type: 'ip-dst', category: 'Network activity' }, ipv6: { type: 'ip-dst', category: 'Network activity' }, cidr: { type: 'ip-dst', category: 'Network activity' },
  domain: { type: 'domain', category: 'Network activity' }, url: { type: 'url', category: 'Network activity' }, email: { type: 'email', category: 'Network activity' },
  md5: { type: 'md5', category: 'Payload delivery' }, sha1: { type: 'sha1', category: 'Payload delivery' }, sha256: { type: 'sha256', category: 'Payload delivery' },
};

/** The uuid of the event that holds `tlp` indicators of `partnerId`. */
export function mispEventUuid(partnerId: string, tlp: Tlp): string {
  return uuidV5(STIX_ID_NAMESPACE, `misp-event:${partnerId}:${tlp}`);
}

interface MispEventSummary {
  readonly uuid: string;
  readonly info: string;
  readonly date: string;
  readonly timestamp: number;
  readonly analysis: number;
  readonly threat_level_id: number;
  readonly published: boolean;
  readonly Orgc: { readonly name: string; readonly uuid: string };
  readonly Tag: ReadonlyArray<{ readonly name: string; readonly colour: string }>;
}

/** The files of the feed: path (under misp/) → content. */
export interface MispFeed {
  readonly files: ReadonlyMap<string, string>;
  /** Attributes in all events. */
  readonly attributes: number;
}

const TLP_COLOUR: Readonly<Record<Tlp, string>> = { clear: '#ffffff', green: '#339900', amber: '#ffc000', 'amber+strict': '#ffc000', red: '#ff2b2b' };

function summary(partnerId: string, tlp: Tlp, items: readonly ExportItem[]): MispEventSummary {
  const ts = Math.max(0, ...items.map((i) => i.addedAt));
  return {
    uuid: mispEventUuid(partnerId, tlp), info: `ThreatMesh indicators (TLP:${tlp.toUpperCase()}) from partner ${partnerId}`,
    date: new Date(ts * 1000).toISOString().slice(0, 10), timestamp: ts, analysis: 2, threat_level_id: 2, published: true,
    Orgc: { name: partnerId, uuid: uuidV5(STIX_ID_NAMESPACE, `misp-org:${partnerId}`) }, Tag: [{ name: `tlp:${tlp}`, colour: TLP_COLOUR[tlp] ?? '#ffffff' }],
  };
}

function attribute(i: ExportItem): Record<string, unknown> | undefined {
  const t = MISP_TYPES[i.type];
  if (t === undefined) return undefined;
  return {
    uuid: i.stixId.slice('indicator--'.length), type: t.type, category: t.category, value: i.value, to_ids: true, deleted: false, disable_correlation: false,
    timestamp: String(i.addedAt), comment: [i.source === undefined ? '' : `source ${i.source}`, i.confidence === undefined ? '' : `confidence ${i.confidence}`].filter((s) => s !== '').join('; '),
    ...(i.labels !== undefined && i.labels.length > 0 ? { Tag: i.labels.map((name) => ({ name })) } : {}),
  };
}

/** Builds the feed from the `add` items (a MISP feed is always full). */
export function mispFeed(partnerId: string, items: readonly ExportItem[]): MispFeed {
  const files = new Map<string, string>();
  const manifest: Record<string, MispEventSummary> = {};
  const hashes: string[] = [];
  let attributes = 0;
  for (const tlp of TLP_LEVELS) {
    const mine = items.filter((i) => i.action === 'add' && i.tlp === tlp);
    const attrs = mine.map(attribute).filter((a) => a !== undefined);
    if (attrs.length === 0) continue;
    const s = summary(partnerId, tlp, mine);
    manifest[s.uuid] = s;
    attributes += attrs.length;
    for (const a of attrs) hashes.push(`${hash('md5', String(a['value']), 'hex')},${s.uuid}`);
    const event = { ...s, timestamp: String(s.timestamp), publish_timestamp: String(s.timestamp), analysis: String(s.analysis), threat_level_id: String(s.threat_level_id), Attribute: attrs };
    files.set(`${s.uuid}.json`, `${JSON.stringify({ Event: event })}\n`);
  }
  files.set('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`);
  files.set('hashes.csv', hashes.length === 0 ? '' : `${hashes.join('\n')}\n`);
  return { files, attributes };
}
