/**
 * Synthetic data for `npm run bench -- match`: a million indicators (domains, IPv4 addresses,
 * CIDRs, hashes, URLs; deterministic) and Zeek TSV dns and conn logs in which about one record
 * in a thousand hits one of them. Written to a temporary directory by the benchmark.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import type { ListedIndicator } from '../operator/src/match/snapshot.ts';
import { prng } from '../operator/src/match/prng.ts';

const WORDS = ['alpha', 'bravo', 'cloud', 'delta', 'echo', 'fox', 'gold', 'hotel', 'india', 'jet', 'kilo', 'lima', 'mail', 'node', 'oscar', 'papa', 'quest', 'radio', 'sierra', 'tango'];
const TLDS = ['com', 'net', 'org', 'info', 'io', 'ru', 'cn', 'xyz', 'top', 'biz'];

/** The i-th listed domain. */
export function listedDomain(i: number): string {
  return `${WORDS[i % 20] ?? ''}${(i * 7919) % 1_000_003}-${WORDS[(i >> 5) % 20] ?? ''}.${TLDS[i % 10] ?? ''}`;
}

/** The i-th listed IPv4 address (in 45.0.0.0/8 .. 109.0.0.0/8, spread). */
export function listedIp(i: number): string {
  const a = (Math.imul(i, 2654435761) >>> 0) % 16_777_216;
  return `${45 + (i % 64)}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

function hex(r: () => number, n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(r() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

/** Mix of the benchmark's indicator set. */
export const MIX = { domain: 600_000, ipv4: 300_000, cidr: 40_000, sha256: 30_000, md5: 10_000, url: 20_000 } as const;

/** Calls `fn` with every benchmark indicator (a million, with digests); the values are not kept. */
export function forEachIndicator(fn: (ind: ListedIndicator) => void): void {
  const r = prng(42);
  const emit = (type: ListedIndicator['type'], value: string): void => fn({ type, value, digest: indicatorDigest({ type, value }) });
  for (let i = 0; i < MIX.domain; i++) emit('domain', listedDomain(i));
  for (let i = 0; i < MIX.ipv4; i++) emit('ipv4', listedIp(i));
  for (let i = 0; i < MIX.cidr; i++) emit('cidr', `${110 + (i % 16)}.${i >> 8 & 255}.${i & 255}.0/24`);
  for (let i = 0; i < MIX.sha256; i++) emit('sha256', hex(r, 64));
  for (let i = 0; i < MIX.md5; i++) emit('md5', hex(r, 32));
  for (let i = 0; i < MIX.url; i++) emit('url', `http://${listedDomain(i + 700_000)}/p/${i}`);
}

const DNS_HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tdns', '#open\t2024-05-01-12-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool',
].join('\n') + '\n';

const CONN_HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-05-01-12-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]',
].join('\n') + '\n';

function uid(r: () => number): string {
  return `C${Math.floor(r() * 2 ** 52).toString(36).padStart(11, 'x').slice(0, 17)}`;
}

function unlistedIp(r: () => number): string {
  return `${150 + Math.floor(r() * 70)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
}

function dnsLine(r: () => number, i: number, hit: boolean): string {
  const ts = (1_714_564_800 + i / 1000).toFixed(6);
  const query = hit ? `www.${listedDomain(Math.floor(r() * MIX.domain))}` : `${WORDS[Math.floor(r() * 20)] ?? ''}${Math.floor(r() * 1e6)}.cdn-${WORDS[Math.floor(r() * 20)] ?? ''}.example.com`;
  const answer = unlistedIp(r);
  return `${ts}\t${uid(r)}\t10.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 254) + 1}\t${1024 + Math.floor(r() * 60000)}\t10.0.0.53\t53\tudp\t${Math.floor(r() * 65536)}\t0.0${Math.floor(r() * 90) + 10}\t${query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t${answer}\t300.000000\tF\n`;
}

function connLine(r: () => number, i: number, hit: boolean): string {
  const ts = (1_714_564_800 + i / 1000).toFixed(6);
  const resp = hit ? listedIp(Math.floor(r() * MIX.ipv4)) : unlistedIp(r);
  return `${ts}\t${uid(r)}\t10.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 254) + 1}\t${1024 + Math.floor(r() * 60000)}\t${resp}\t443\ttcp\tssl\t${(r() * 10).toFixed(6)}\t${Math.floor(r() * 5000)}\t${Math.floor(r() * 50000)}\tSF\tT\tF\t0\tShADadFf\t${Math.floor(r() * 40)}\t${Math.floor(r() * 6000)}\t${Math.floor(r() * 60)}\t${Math.floor(r() * 60000)}\t-\n`;
}

/** Writes a Zeek TSV log of `lines` records (`kind` dns or conn) to `path`; one record in `hitEvery` hits an indicator. */
export async function writeZeekLog(path: string, kind: 'dns' | 'conn', lines: number, hitEvery = 1000): Promise<void> {
  const out = createWriteStream(path);
  const r = prng(kind === 'dns' ? 7 : 11);
  out.write(kind === 'dns' ? DNS_HEADER : CONN_HEADER);
  let batch = '';
  for (let i = 0; i < lines; i++) {
    batch += (kind === 'dns' ? dnsLine : connLine)(r, i, i % hitEvery === hitEvery - 1);
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  out.end(batch + '#close\t2024-05-01-13-00-00\n');
  await once(out, 'finish');
}
