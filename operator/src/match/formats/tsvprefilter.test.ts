/**
 * The WebAssembly prefilter against the JavaScript walk it skips lines for (the reference):
 * every input is parsed twice, with `prefilter: false` and with it, through the same random
 * chunking, and everything the scan reports must be identical: lines, rejects by reason with
 * their sampled line numbers and texts, and per indicator the count, first and last seen, hour
 * buckets and sources. Inputs: a table of malformed and unusual logs, generated dns and conn
 * logs, and random byte mutations of them. A last group proves the prefilter really skips lines
 * (a silently declining prefilter would pass the equality tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { indicatorDigest } from '../../domain/canonical.ts';
import { FieldMatcher } from '../fields.ts';
import { feedLines } from '../lines.ts';
import { SnapshotBuilder, type ListedIndicator, type MatcherSnapshot } from '../snapshot.ts';
import { ScanStats } from '../stats.ts';
import { Tally } from '../tally.ts';
import { ZeekParser } from './zeek.ts';
import { TsvPrefilter } from './tsvprefilter.ts';
import { prng } from '../prng.ts';

const ind = (type: ListedIndicator['type'], value: string): ListedIndicator => ({ type, value, digest: indicatorDigest({ type, value }) });
const LISTED: ListedIndicator[] = [
  ind('domain', 'evil.com'), ind('domain', 'bad.example.org'), ind('domain', 'x.io'), ind('domain', 'abcdefghijklmnop.net'),
  ind('domain', '1password.com'), ind('ipv4', '45.1.2.3'), ind('ipv4', '10.0.0.53'), ind('cidr', '110.5.0.0/16'),
  ind('cidr', '120.7.8.0/24'), ind('ipv6', '2001:db8::1'), ind('cidr', '2001:db8:1::/48'),
];

function snapshotOf(set: readonly ListedIndicator[]): MatcherSnapshot {
  const b = new SnapshotBuilder();
  for (const i of set) assert.equal(b.add(i), undefined, i.value);
  return b.build();
}
const SNAP = snapshotOf(LISTED);

const DNS_FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'query', 'rcode_name', 'answers', 'TTLs'];
const DNS_TYPES = ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'string', 'vector[string]', 'vector[interval]'];
const header = (fields = DNS_FIELDS, types = DNS_TYPES, sep = '\t'): string =>
  `#separator ${sep === '\t' ? '\\x09' : sep}\n#set_separator${sep},\n#path${sep}dns\n#fields${sep}${fields.join(sep)}\n#types${sep}${types.join(sep)}\n`;
// The default addresses lie outside every listed network (10.0.0.53 is listed, and a small table's bitmap is per /16).
const dns = (query: string, answers = '-', orig = '10.1.2.3', resp = '10.9.0.1', ts = '1714564800.5'): string =>
  [ts, 'Cx', orig, '5353', resp, '53', 'udp', query, 'NOERROR', answers, '300.0'].join('\t');

/** Scans `text` (chunked at the same random places both times); everything the scan reports. */
async function scan(text: string | Buffer, prefilter: boolean, seed: number, snap = SNAP): Promise<unknown> {
  const fields = new FieldMatcher(snap);
  const tally = new Tally();
  const stats = new ScanStats();
  const parser = new ZeekParser({ fields, tally, stats, prefilter });
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const r = prng(seed);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 64 : 200_000));
      // A copy per chunk, as the reader's reused buffers give: nothing may keep a chunk.
      yield await Promise.resolve(Buffer.from(bytes.subarray(at, at + n)));
      at += n;
    }
  }
  await feedLines(chunks(), parser, stats);
  const entries = tally.entries().map((e) => ({ ...e, buckets: [...e.buckets] }));
  return { lines: stats.lines, rejected: stats.rejected, samples: stats.samples, matched: tally.matchedRecords, entries };
}

async function same(text: string | Buffer, seed = 1, snap = SNAP): Promise<void> {
  assert.deepEqual(await scan(text, true, seed, snap), await scan(text, false, seed, snap));
}

const CASES: ReadonlyArray<readonly [string, string]> = [
  ['hits in every column kind', header() + [dns('www.EVIL.com.'), dns('a.b', '45.1.2.3'), dns('-', '-', '45.1.2.3'), dns('q', 'x,110.5.9.9', '10.1.1.1', '120.7.8.200')].join('\n') + '\n'],
  ['misses and near misses', header() + [dns('evil.co'), dns('xevil.com'), dns('evil.com.x'), dns('045.1.2.3'), dns('q', '45.1.2.3.4,45.1.2'), dns('q', '256.1.2.3')].join('\n') + '\n'],
  ['IPv4 text at the edges of the octet decoder', header() + ['0.0.0.0', '255.255.255.255', '45.1.2.3', '45.1.2.', '.45.1.2.3', '45..1.2.3', '45.1.2.3x', '045.1.2.3', '45.1.2.03', '45.1.2.300',
    '4500.1.2.3', '45.1.2.3.', '45.1.2', '1', '', '45.1.2.3,45.1.2.4', '10.0.0.53', '10.0.0.530', '10.0.0.5', '110.5.255.255', '120.7.8.0', '120.7.80.1', '99999', '4.5.6.7:80']
    .flatMap((a) => [dns('q', a), dns('q', '-', a), dns(a), dns('q', `x.org,${a}`, '10.1.1.1', a)]).join('\n') + '\n'],
  ['set separators in the column after a list', header() + ['evil.com', 'x,evil.com', 'evil.com,x', '45.1.2.3', 'a,b', '-'].map((a) => `${dns('q', a).slice(0, -'\t300.0'.length)}\t1.0,2.0,3.0`).join('\n') + '\n'],
  ['names led by digits, colons and brackets', header() + [dns('1password.com'), dns('45.1.2.3'), dns('45.1.2.3x'), dns('[2001:db8::1]'), dns('2001:db8::1'), dns(':x'), dns('[x')].join('\n') + '\n'],
  ['IPv6 and text in address columns', header() + [dns('q', '-', '2001:db8::1'), dns('q', '-', '2001:db8:1::9'), dns('q', '-', 'host.local'), dns('q', '-', ''), dns('q', '2001:db8::1,::ffff:45.1.2.3')].join('\n') + '\n'],
  ['short, empty and odd lines', header() + ['10\tC', '', '\r', 'x', dns('evil.com').slice(0, 30), dns('evil.com') + '\r', '\t\t\t\t\t\t\t\t\t\t', dns('evil.com', '-', '10.1.2.3', '10.9.0.1', '-')].join('\n') + '\n'],
  ['a line over 64 KiB, and a long name', header() + [dns('a'.repeat(70_000) + '.com'), dns(`${'b'.repeat(300)}.evil.com`), dns('q', 'y'.repeat(65_530))].join('\n') + '\n'],
  ['a record before any header, JSON lines, headers mid-file', `${dns('evil.com')}\n${header()}${dns('evil.com')}\n{"ts":1714564800,"query":"evil.com"}\n{bad\n${header(['ts', 'query'], ['time', 'string'])}1714564800\tevil.com\n1714564801\tfine.org\n#close\tx\n`],
  ['a header that changes the separators', `${header()}${dns('evil.com')}\n${header(DNS_FIELDS, DNS_TYPES, ' ')}${dns('evil.com').replaceAll('\t', ' ')}\n${dns('evil.com')}\n`],
  ['hash and URL columns', `${header(['ts', 'host', 'uri', 'md5'], ['time', 'string', 'string', 'string'])}1714564800\tevil.com\t/x\t-\n1714564800\tok.org\t/x\t${'a'.repeat(32)}\n`],
  ['no final newline', header() + dns('evil.com')],
  ['NUL, high and control bytes', header() + [dns('ev\0il.com'), dns('\xff\xfe.evil.com'), dns('evil.com\x0b'), dns('q', '\0,45.1.2.3')].join('\n') + '\n'],
  ['more flagged lines than one call holds', header() + Array.from({ length: 9000 }, (_, i) => dns(i % 3 === 0 ? 'evil.com' : `n${i}.org`, '-', i % 5 === 0 ? '45.1.2.3' : '10.9.9.9')).join('\n') + '\n'],
];

for (const [name, text] of CASES) {
  test(`prefilter = JavaScript walk: ${name}`, async () => {
    for (const seed of [1, 2, 3]) await same(text, seed);
  });
}

// ---- the domain walk's early stop at the suffix closure (suffixclosure.ts) ----
// Listed domains whose parents are not listed, so that a name may share a parent with a listed
// domain (the walk goes on) or leave the closure at any label and byte position (it stops).
const DEEP: ListedIndicator[] = [
  ind('domain', 'deep.sub.example.co.uk'), ind('domain', 'a.b.c.d.e.f.g.h'), ind('domain', 'xn--80ak6aa92e.com'),
  ind('domain', 'abcd.efgh.ijkl'), ind('domain', 'q.rs.tuv.wxyz.net'), ind('domain', 'ab.cd'), ind('ipv4', '45.1.2.3'),
];
const DEEP_SNAP = snapshotOf(DEEP);
const CLOSURE_CASES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['listed names and their subdomains', ['deep.sub.example.co.uk', 'x.deep.sub.example.co.uk', 'a.b.c.d.e.f.g.h', 'z.a.b.c.d.e.f.g.h', 'abcd.efgh.ijkl', 'q.rs.tuv.wxyz.net']],
  ['parents and siblings inside the closure, not listed', ['sub.example.co.uk', 'example.co.uk', 'co.uk', 'uk', 'other.sub.example.co.uk', 'b.c.d.e.f.g.h', 'x.c.d.e.f.g.h', 'efgh.ijkl', 'ijkl', 'cd', 'x.cd', 'xab.cd']],
  ['upper case and trailing dots', ['DEEP.SUB.EXAMPLE.CO.UK', 'Deep.Sub.Example.Co.Uk.', 'www.AB.CD.', 'A.B.C.D.E.F.G.H.', 'CO.UK.', 'ab.cd..', '.ab.cd', '..']],
  ['IDN: punycode and raw UTF-8', ['xn--80ak6aa92e.com', 'www.xn--80ak6aa92e.com', 'XN--80AK6AA92E.COM', 'xn--80ak6aa92f.com', 'пример.com', 'www.пример.xn--80ak6aa92e.com']],
  ['dots at every byte of a word', ['a.ab.cd', 'ab.ab.cd', 'abc.ab.cd', 'abcd.ab.cd', 'abcde.ab.cd', 'x.y.z.q.rs.tuv.wxyz.net', 'rs.tuv.wxyz.net', 's.tuv.wxyz.net', 'tuv.wxyz.net', 'uv.wxyz.net']],
  ['unset and empty fields, sets in answers', ['-', '(empty)', '', ',', 'ab.cd,', ',ab.cd', 'no.example.co.uk,x.ab.cd,45.1.2.3', 'co.uk,uk,-', '(empty),ab.cd']],
];

for (const [name, names] of CLOSURE_CASES) {
  test(`prefilter = JavaScript walk, closure stop: ${name}`, async () => {
    // Each name as the query and as the answers; padded lines move it across chunk edges.
    const body = names.flatMap((n, i) => [dns(n), dns(`q${i}.example.org`, n), dns('x'.repeat(i * 7 + 1), n)]);
    const text = header() + body.join('\n') + '\n';
    for (const seed of [1, 2, 3, 4]) await same(text, seed, DEEP_SNAP);
    const hits = (await scan(text, true, 5, DEEP_SNAP)) as { matched: number };
    assert.equal(hits.matched, (await scan(text, false, 5, DEEP_SNAP) as { matched: number }).matched);
  });
}

test('prefilter = JavaScript walk: random names from the labels of the listed domains', async () => {
  const labels = ['deep', 'sub', 'example', 'co', 'uk', 'a', 'b', 'c', 'g', 'h', 'ab', 'cd', 'abcd', 'efgh', 'ijkl', 'rs', 'tuv', 'wxyz', 'net', 'x', 'DEEP', 'CO'];
  const rnd = prng(5);
  const listed = DEEP.filter((i) => i.type === 'domain').map((i) => i.value);
  const name = (): string => Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => labels[Math.floor(rnd() * labels.length)] ?? '').join('.')
    + (rnd() < 0.2 ? `.${listed[Math.floor(rnd() * listed.length)] ?? ''}` : '') + (rnd() < 0.1 ? '.' : '');
  const body = Array.from({ length: 4000 }, () => dns(name(), rnd() < 0.3 ? `${name()},${name()}` : '-'));
  const text = header() + body.join('\n') + '\n';
  const out = (await scan(text, true, 11, DEEP_SNAP)) as { matched: number };
  assert.ok(out.matched > 100, `the labels make hits (${out.matched})`);
  for (const seed of [11, 12]) await same(text, seed, DEEP_SNAP);
});

// ---- Zeek http (host, host + uri) and files (md5, sha1, sha256, host sets) logs ----
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EXACT: ListedIndicator[] = [
  ind('md5', MD5), ind('sha1', SHA1), ind('sha256', SHA256), ind('url', 'http://files.example.net/dl/x.exe'),
  ind('url', 'http://1.2.3.4/a'), ind('domain', 'evil.com'), ind('ipv4', '45.1.2.3'),
];
const EXACT_SNAP = snapshotOf(EXACT);
const HTTP_FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'method', 'host', 'uri', 'status_code'];
const HTTP_TYPES = ['time', 'string', 'addr', 'port', 'addr', 'port', 'string', 'string', 'string', 'count'];
const FILES_FIELDS = ['ts', 'fuid', 'tx_hosts', 'rx_hosts', 'source', 'mime_type', 'md5', 'sha1', 'sha256', 'total_bytes'];
const FILES_TYPES = ['time', 'string', 'set[addr]', 'set[addr]', 'string', 'string', 'string', 'string', 'string', 'count'];
const http = (host: string, uri: string, resp = '10.9.0.1'): string => ['1714564800.5', 'Ch', '10.1.2.3', '5353', resp, '80', 'GET', host, uri, '200'].join('\t');
const files = (md5: string, sha1 = '-', sha256 = '-', tx = '10.9.0.1', rx = '10.1.2.3'): string => ['1714564800.5', 'Fx', tx, rx, 'HTTP', 'text/plain', md5, sha1, sha256, '9'].join('\t');
const HASHES = [MD5, MD5.toUpperCase(), SHA1, SHA256, SHA256.toUpperCase(), MD5.slice(1), `${MD5}0`, SHA1.replace('d', 'e'), `${SHA256.slice(0, 63)}f`, '-', '(empty)', '', 'x'.repeat(32), 'evil.com'];
const EXACT_CASES: ReadonlyArray<readonly [string, string]> = [
  ['http: URL indicators by host + uri, any case of the host', header(HTTP_FIELDS, HTTP_TYPES) + [
    http('files.example.net', '/dl/x.exe'), http('FILES.Example.NET', '/dl/x.exe'), http('files.example.net', '/dl/y.exe'), http('files.example.net', '-'),
    http('1.2.3.4', '/a'), http('1.2.3.4', '/b'), http('other.example.net', '/dl/x.exe'), http('-', '/dl/x.exe'), http('(empty)', '/a'), http('', '/a'),
    http('www.evil.com', '/'), http('evil.com:8080', '/'), http('[2001:db8::1]', '/'), http('files.example.net.', '/dl/x.exe'), http('q', '/', '45.1.2.3'),
  ].join('\n') + '\n'],
  ['files: hashes of every length and case, host sets', header(FILES_FIELDS, FILES_TYPES) + [
    ...HASHES.flatMap((h) => [files(h), files('-', h), files('-', '-', h)]),
    files('-', '-', '-', '10.9.0.1,45.1.2.3'), files('-', '-', '-', '10.9.0.1', '2001:db8::1'), files('-', '-', '-', '-', '(empty)'),
  ].join('\n') + '\n'],
];

for (const [name, text] of EXACT_CASES) {
  test(`prefilter = JavaScript walk: ${name}`, async () => {
    for (const seed of [1, 2, 3]) await same(text, seed, EXACT_SNAP);
    assert.ok(((await scan(text, true, 1, EXACT_SNAP)) as { matched: number }).matched >= 4, 'the table has hits');
  });
}

test('the prefilter skips http and files lines that cannot hit (filter and slot hashes)', () => {
  // Thousands of listed hashes and URL hosts, so that their filters let some misses through.
  const hex = (k: number, n: number): string => createHash('sha256').update(String(k)).digest('hex').slice(0, n);
  const many = [...EXACT, ...Array.from({ length: 3000 }, (_, k) => ind('md5', hex(k, 32))), ...Array.from({ length: 3000 }, (_, k) => ind('url', `http://h${k}.example.net/`))];
  const pre = TsvPrefilter.create(snapshotOf(many));
  assert.ok(pre);
  const cases: ReadonlyArray<readonly [string, Uint8Array, number, (i: number) => string, readonly number[]]> = [
    ['http', Uint8Array.of(0, 0, 1, 0, 1, 0, 0, 7, 8), 8, (i) => (i === 7 ? http('files.example.net', '/x') : http(`n${i}.example.org`, `/p/${i}`)), [7]],
    ['files', Uint8Array.of(0, 0, 2, 2, 0, 0, 5, 5, 5), 8, (i) => (i === 3 ? files('-', SHA1) : files(hex(-1 - i, 32), hex(-1 - i, 40))), [3]],
  ];
  for (const [name, roles, last, line, want] of cases) {
    assert.equal(pre.configure(roles, last, 9, 44), true, name);
    const buf = Buffer.from(Array.from({ length: 3000 }, (_, i) => `${line(i)}\n`).join(''));
    pre.load(buf, 0, buf.length);
    assert.equal(pre.scan(0, buf.length), buf.length);
    const flagged: number[] = Array.from({ length: pre.flagged }, (_, k) => pre.flaggedLine(k));
    // The slots' hashes answer what the filter lets through: only the hit is flagged.
    assert.deepEqual(flagged, want, name);
  }
});

// ---- generated logs and their mutations ----
const r = prng(99);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const names = ['evil.com', 'www.evil.com', 'EVIL.COM.', 'bad.example.org', 'good.example.org', 'x.io', 'sub.x.io', 'abcdefghijklmnop.net', 'zz.abcdefghijklmnop.net', 'cdn-alpha.example.com', 'a', '-'];
const addrs = ['45.1.2.3', '10.0.0.53', '110.5.7.7', '120.7.8.9', '120.7.9.9', '150.1.2.3', '2001:db8::1', '2001:db8:1::5', '-'];
function generated(lines: number): string {
  const body = Array.from({ length: lines }, (_, i) =>
    dns(pick(names), Array.from({ length: 1 + Math.floor(r() * 3) }, () => (r() < 0.5 ? pick(addrs) : pick(names))).join(','), pick(addrs), pick(addrs), (1714564800 + i).toFixed(3)));
  return header() + body.join('\n') + '\n';
}
const MUTATIONS = ['\t', '\n', ',', '.', '0', '9', '-', ':', '[', '#', '{', ' ', '\r', 'A'];
function mutate(text: string, n: number): string {
  const b = [...text];
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * b.length);
    const op = r();
    if (op < 0.4) b[at] = pick(MUTATIONS);
    else if (op < 0.7) b.splice(at, 1);
    else b.splice(at, 0, pick(MUTATIONS));
  }
  return b.join('');
}

test('prefilter = JavaScript walk: generated dns logs against several indicator mixes', async () => {
  const text = generated(5000);
  for (const keep of [(): boolean => true, (i: ListedIndicator): boolean => i.type === 'domain', (i: ListedIndicator): boolean => i.type !== 'domain']) {
    await same(text, 7, snapshotOf(LISTED.filter(keep)));
  }
});

test('prefilter = JavaScript walk: 150 random mutations of a generated log', async () => {
  const base = generated(300);
  for (let k = 0; k < 150; k++) await same(mutate(base, 1 + Math.floor(r() * 40)), k);
});

// ---- the prefilter does skip lines ----
test('the prefilter flags only the lines that may hit, and counts every line', () => {
  const pre = TsvPrefilter.create(SNAP);
  assert.ok(pre, 'this Node runs WebAssembly SIMD');
  const roles = Uint8Array.from(DNS_FIELDS, (f) => ({ 'id.orig_h': 1, 'id.resp_h': 1, query: 3, answers: 4 } as Record<string, number>)[f] ?? 0);
  assert.equal(pre.configure(roles, 9, 9, 44), true);
  const lines = Array.from({ length: 1000 }, (_, i) => dns(i === 500 ? 'www.evil.com' : `n${i}.cdn.example.net`, i === 900 ? 'x,45.1.2.3' : '-'));
  const buf = Buffer.from(`${lines.join('\n')}\n`);
  pre.load(buf, 0, buf.length);
  assert.equal(pre.scan(0, buf.length), buf.length);
  assert.equal(pre.lines, 1000);
  const flagged = Array.from({ length: pre.flagged }, (_, k) => pre.flaggedLine(k));
  assert.ok(flagged.includes(500) && flagged.includes(900), `flagged ${flagged.join(',')}`);
  assert.ok(flagged.length < 30, `only the hits and a few filter false positives are flagged (${flagged.length})`);
  assert.equal(pre.flaggedAt(flagged.indexOf(500)), lines.slice(0, 500).join('\n').length + 1);
});

test('the prefilter flags every IPv4-like text it cannot read as a strict dotted quad', () => {
  const pre = TsvPrefilter.create(SNAP);
  assert.ok(pre);
  const roles = Uint8Array.from(DNS_FIELDS, (f) => ({ 'id.orig_h': 1, 'id.resp_h': 1, query: 3, answers: 4 } as Record<string, number>)[f] ?? 0);
  assert.equal(pre.configure(roles, 9, 9, 44), true);
  // [text, flagged]: in the address column, the query and a list of answers.
  const cases: ReadonlyArray<readonly [string, boolean]> = [
    ['10.1.2.3', false], ['0.0.0.0', false], ['10.255.255.255', false], ['45.1.2.3', true],
    ['045.1.2.3', true], ['10.01.2.3', true], ['10.1.2.300', true], ['256.1.2.3', true], ['10.1.2.3x', true], ['10.1.2', true],
    ['10.1.2.3.4', true], ['10..1.2', true], ['1000.1.2.3', true], ['10.1.2.', true],
  ];
  const lines = cases.flatMap(([a]) => [dns('q', '-', a), dns(a), dns('q', `10.9.9.9,${a}`)]);
  const buf = Buffer.from(`${lines.join('\n')}\n`);
  pre.load(buf, 0, buf.length);
  assert.equal(pre.scan(0, buf.length), buf.length);
  const flagged = new Set(Array.from({ length: pre.flagged }, (_, k) => pre.flaggedLine(k)));
  cases.forEach(([a, want], i) => {
    for (const [j, where] of ['address', 'query', 'answers'].entries()) assert.equal(flagged.has(3 * i + j), want, `${a} in the ${where}`);
  });
});

test('the prefilter declines columns it cannot judge', () => {
  const pre = TsvPrefilter.create(SNAP);
  assert.ok(pre);
  const cases: ReadonlyArray<readonly [string, Uint8Array, number, number, boolean]> = [
    ['a timestamp role', Uint8Array.of(0, 6), 1, 9, false],
    ['an unknown role', Uint8Array.of(0, 9), 1, 9, false],
    ['hash, HTTP host and URI columns', Uint8Array.of(5, 7, 8, 0), 3, 9, true],
    ['no column to reach', Uint8Array.of(0), -1, 9, false],
    ['a newline separator', Uint8Array.of(1), 0, 10, false],
    ['300 columns', new Uint8Array(301).fill(1), 300, 9, false],
    ['addresses and names', Uint8Array.of(0, 1, 2, 3, 4), 4, 9, true],
  ];
  for (const [name, roles, last, sep, want] of cases) assert.equal(pre.configure(roles, last, sep, 44), want, name);
});
