/**
 * Differential test of the Zeek TSV fast path (byte-level field location, word-at-a-time suffix
 * hashing, columns skipped by snapshot content) against a deliberately simple reference
 * matcher: split on tabs and commas, lower-case strings, a Set of domains walked parent by
 * parent, CIDRs by brute force with BigInt masks. Generated dns, conn, http and files logs of a
 * few thousand records each (names of every length and case, trailing dots, near misses,
 * IPv4/IPv6 inside and outside listed networks, listed IPv4 addresses written with a leading
 * zero, too many or too few parts or a trailing dot, unset fields, short lines), scanned through
 * more than one read chunk, against several indicator mixes: the counts per indicator and the
 * rejects must be identical, with the WebAssembly prefilter (formats/tsvprefilter.ts) and without.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indicatorDigest } from '../domain/canonical.ts';
import { normalize, type IndicatorType } from '../domain/indicator.ts';
import { parseCidr, parseIpv4, parseIpv6 } from '../domain/ip.ts';
import { scanInput } from './scan.ts';
import { SnapshotBuilder, type ListedIndicator } from './snapshot.ts';
import { prng } from './prng.ts';

const r = prng(1234);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (n: number): number => Math.floor(r() * n);
const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
const label = (): string => Array.from({ length: 1 + int(12) }, () => pick([...ALPHA.slice(0, 36)])).join('');
const randomCase = (s: string): string => [...s].map((c) => (r() < 0.3 ? c.toUpperCase() : c)).join('');

function canonical(type: IndicatorType, value: string): ListedIndicator | undefined {
  const n = normalize(type, value);
  return n.ok ? { type, value: n.indicator.value, digest: indicatorDigest(n.indicator) } : undefined;
}

const domains = Array.from({ length: 300 }, () => Array.from({ length: 2 + int(3) }, label).join('.') + pick(['.com', '.net', '.xyz', '']));
const ipv4s = Array.from({ length: 200 }, () => `${11 + int(80)}.${int(256)}.${int(256)}.${int(256)}`);
const cidrs = [...Array.from({ length: 30 }, () => `${100 + int(20)}.${int(256)}.0.0/16`), ...Array.from({ length: 30 }, () => `${100 + int(20)}.${int(256)}.${int(256)}.0/24`)];
const ipv6s = Array.from({ length: 40 }, () => `2001:db8:${int(65536).toString(16)}::${int(65536).toString(16)}`);
const v6nets = Array.from({ length: 10 }, () => `2001:db8:${int(65536).toString(16)}::/48`);
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
const hashes = [...Array.from({ length: 40 }, () => hex(32)), ...Array.from({ length: 40 }, () => hex(40)), ...Array.from({ length: 40 }, () => hex(64))];
const urls = Array.from({ length: 40 }, (_, i) => `http://${domains[i] ?? 'x.com'}/p/${i}`);

const ALL: ListedIndicator[] = [
  ...domains.map((d) => canonical('domain', d)), ...ipv4s.map((v) => canonical('ipv4', v)), ...cidrs.map((v) => canonical('cidr', v)),
  ...ipv6s.map((v) => canonical('ipv6', v)), ...v6nets.map((v) => canonical('cidr', v)),
  ...hashes.map((h) => canonical(h.length === 32 ? 'md5' : h.length === 40 ? 'sha1' : 'sha256', h)), ...urls.map((u) => canonical('url', u)),
].filter((x): x is ListedIndicator => x !== undefined);

// ---- generated log values ----
function name(): string {
  const base = pick(domains);
  const n = r();
  const v = n < 0.35 ? base : n < 0.6 ? `${label()}.${base}` : n < 0.7 ? `x${base}` : n < 0.8 ? base.slice(base.indexOf('.') + 1) : `${label()}.${label()}.example.org`;
  return (r() < 0.5 ? randomCase(v) : v) + (r() < 0.1 ? '.' : '');
}
/** A listed address written the way no strict parser accepts: a leading zero, five or three parts, an octet over 255, a trailing dot. */
function nearMissV4(a: string): string {
  const o = a.split('.');
  const k = int(4);
  const forms = [
    () => o.map((x, j) => (j === k ? `0${x}` : x)).join('.'), () => `${a}.${int(256)}`, () => o.slice(0, 3).join('.'),
    () => o.map((x, j) => (j === k ? String(256 + int(700)) : x)).join('.'), () => `${a}.`,
  ];
  return pick(forms)();
}
function v4(): string {
  const n = r();
  if (n < 0.3) return pick(ipv4s);
  if (n < 0.36) return nearMissV4(pick(ipv4s));
  if (n < 0.6) return pick(cidrs).replace(/\.0\.0\/16$|\.0\/24$/, (m) => (m.length > 4 ? `.${int(256)}.${int(256)}` : `.${int(256)}`));
  return `${150 + int(70)}.${int(256)}.${int(256)}.${int(256)}`;
}
function v6(): string {
  const n = r();
  if (n < 0.4) return pick(ipv6s);
  if (n < 0.7) return pick(v6nets).replace('::/48', `:${int(65536).toString(16)}::1`);
  return `2001:db9::${int(65536).toString(16)}`;
}
const addr = (): string => (r() < 0.8 ? v4() : v6());
const unsetOr = (v: () => string): string => (r() < 0.08 ? '-' : v());
const answers = (): string => (r() < 0.1 ? '-' : r() < 0.05 ? '(empty)' : Array.from({ length: 1 + int(4) }, () => (r() < 0.5 ? addr() : name())).join(','));

const LOGS: Record<string, { fields: string[]; types: string[]; line: () => string[] }> = {
  dns: {
    fields: ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'trans_id', 'query', 'qclass', 'qtype_name', 'rcode_name', 'AA', 'TC', 'answers', 'TTLs', 'rejected'],
    types: ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'count', 'string', 'count', 'string', 'string', 'bool', 'bool', 'vector[string]', 'vector[interval]', 'bool'],
    line: () => [ts(), 'Cabc', addr(), '5353', addr(), '53', 'udp', String(int(65536)), unsetOr(name), '1', 'A', 'NOERROR', 'F', 'T', answers(), '300.0', 'F'],
  },
  conn: {
    fields: ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'tunnel_parents'],
    types: ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'set[string]'],
    line: () => [ts(), 'Cdef', addr(), '1234', unsetOr(addr), '443', 'tcp', 'ssl', '0.5', '-'],
  },
  http: {
    fields: ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'method', 'host', 'uri', 'user_agent'],
    types: ['time', 'string', 'addr', 'port', 'addr', 'port', 'string', 'string', 'string', 'string'],
    line: () => { const u = r() < 0.3 ? pick(urls) : undefined; const host = u ? new URL(u).host : unsetOr(name); return [ts(), 'Cghi', addr(), '1234', addr(), '80', 'GET', host, u ? new URL(u).pathname : `/p/${int(50)}`, 'curl']; },
  },
  files: {
    fields: ['ts', 'fuid', 'tx_hosts', 'rx_hosts', 'mime_type', 'md5', 'sha1', 'sha256'],
    types: ['time', 'string', 'set[addr]', 'set[addr]', 'string', 'string', 'string', 'string'],
    line: () => [ts(), 'Fjkl', addr(), `${addr()},${addr()}`, 'text/plain', hashOr(32), hashOr(40), hashOr(64)],
  },
};
let clock = 1_714_564_800;
function ts(): string { clock += r(); return clock.toFixed(6); }
function hashOr(n: number): string { const listed = hashes.filter((h) => h.length === n); return r() < 0.3 ? randomCase(pick(listed)) : r() < 0.1 ? '-' : hex(n); }

function logText(kind: string, lines: number): string {
  const l = LOGS[kind];
  assert.ok(l);
  const head = ['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', `#path\t${kind}`, `#fields\t${l.fields.join('\t')}`, `#types\t${l.types.join('\t')}`];
  const body = Array.from({ length: lines }, () => {
    const f = l.line();
    // A few short records (missing fields) on purpose.
    return r() < 0.005 ? f.slice(0, 3).join('\t') : f.join('\t');
  });
  return `${[...head, ...body].join('\n')}\n`;
}

// ---- the reference matcher ----
type Listed = ReadonlyMap<string, ListedIndicator>;
function bigOf(groups: readonly number[], bits: number): bigint {
  return groups.reduce((acc, g) => (acc << BigInt(bits)) | BigInt(g), 0n);
}
function referenceIp(text: string, set: readonly ListedIndicator[]): ListedIndicator | undefined {
  const a4 = parseIpv4(text);
  const a6 = a4.ok ? undefined : parseIpv6(text);
  if (!a4.ok && !a6?.ok) return undefined;
  const [value, width] = a4.ok ? [BigInt(a4.address), 32] : [bigOf(a6?.ok ? [...a6.groups] : [], 16), 128];
  let best: ListedIndicator | undefined;
  let bestLen = -1;
  for (const ind of set) {
    const c = parseCidr(ind.value);
    if (!c.ok || (c.family === 4) !== (width === 32)) continue;
    const base = c.family === 4 ? BigInt(c.address) : bigOf([...c.groups], 16);
    const shift = BigInt(width - c.prefix);
    if (value >> shift === base >> shift && c.prefix > bestLen) [best, bestLen] = [ind, c.prefix];
  }
  return best;
}
function referenceHost(text: string, byValue: Listed, nets: readonly ListedIndicator[]): ListedIndicator | undefined {
  const ip = referenceIp(text.replace(/^\[|\]$/g, ''), nets);
  if (ip || parseIpv4(text).ok || text.includes(':')) return ip;
  const n = text.toLowerCase().replace(/\.$/, '');
  const labels = n.split('.');
  for (let i = 0; i < labels.length; i++) {
    const hit = byValue.get(labels.slice(i).join('.'));
    if (hit?.type === 'domain') return hit;
  }
  return undefined;
}
function referenceScan(text: string, set: readonly ListedIndicator[]): { counts: Map<string, number>; rejected: number } {
  const byValue = new Map(set.map((i) => [i.value, i]));
  const nets = set.filter((i) => i.type === 'ipv4' || i.type === 'ipv6' || i.type === 'cidr');
  const counts = new Map<string, number>();
  let fields: string[] = [];
  let types: string[] = [];
  let rejected = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#fields\t')) fields = line.split('\t').slice(1);
    if (line.startsWith('#types\t')) types = line.split('\t').slice(1);
    if (line.startsWith('#')) continue;
    const f = line.split('\t');
    if (f.length < fields.length) { rejected++; continue; }
    const hits = new Set<ListedIndicator>();
    const add = (i: ListedIndicator | undefined): void => { if (i) hits.add(i); };
    fields.forEach((name, k) => {
      const v = f[k] ?? '-';
      if (v === '-') return;
      const items = types[k]?.startsWith('set[') || types[k]?.startsWith('vector[') ? v.split(',') : [v];
      if (types[k] === 'addr' || types[k] === 'set[addr]') for (const x of items) add(referenceIp(x, nets));
      else if (['query', 'answers', 'host'].includes(name)) for (const x of items) add(referenceHost(x, byValue, nets));
      else if (['md5', 'sha1', 'sha256'].includes(name)) add(byValue.get(v.toLowerCase()));
    });
    const host = f[fields.indexOf('host')];
    const uri = f[fields.indexOf('uri')];
    if (host && uri && host !== '-') { const u = normalize('url', `http://${host}${uri}`); if (u.ok) add(byValue.get(u.indicator.value)); }
    for (const h of hits) counts.set(h.digest, (counts.get(h.digest) ?? 0) + 1);
  }
  return { counts, rejected };
}

const MIXES: Record<string, (i: ListedIndicator) => boolean> = {
  everything: () => true,
  'domains only': (i) => i.type === 'domain',
  'addresses only': (i) => ['ipv4', 'ipv6', 'cidr'].includes(i.type),
  'hashes and URLs only': (i) => !['domain', 'ipv4', 'ipv6', 'cidr'].includes(i.type),
};

const dir = await mkdtemp(join(tmpdir(), 'threatmesh-diff-'));
const texts = Object.fromEntries(Object.keys(LOGS).map((k) => [k, logText(k, k === 'dns' ? 12_000 : 3000)]));

for (const [mix, keep] of Object.entries(MIXES)) {
  for (const kind of Object.keys(LOGS)) {
    test(`${kind} log, ${mix}: the fast path finds exactly what the reference finds`, async () => {
      const set = ALL.filter(keep);
      const b = new SnapshotBuilder();
      for (const i of set) assert.equal(b.add(i), undefined, i.value);
      const snap = b.build();
      const path = join(dir, `${kind}.log`);
      await writeFile(path, texts[kind] ?? '');
      const want = referenceScan(texts[kind] ?? '', set);
      const name = (d: string): string => set.find((i) => i.digest === d)?.value ?? d;
      // With the WebAssembly prefilter (formats/tsvprefilter.ts) and with the JavaScript walk alone.
      for (const prefilter of [true, false]) {
        const { tally, stats } = await scanInput({ kind: 'file', path }, undefined, { format: 'zeek', snapshot: () => snap, prefilter });
        const got = new Map(tally.entries().map((e) => [e.digest, e.count]));
        assert.deepEqual(new Map([...got].map(([d, n]) => [name(d), n])), new Map([...want.counts].map(([d, n]) => [name(d), n])), `prefilter ${prefilter}`);
        assert.equal(stats.rejected['missing-fields'] ?? 0, want.rejected);
        if (mix === 'everything') assert.ok(got.size > 20, `the generated ${kind} log hits many indicators (${got.size})`);
      }
    });
  }
}

test('cleanup', async () => { await rm(dir, { recursive: true, force: true }); });
