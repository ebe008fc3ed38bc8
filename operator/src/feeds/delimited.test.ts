import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDelimited, splitQuotedLine, type DelimitedOptions } from './delimited.ts';
import { chunked, drain, values } from './testing.ts';
import { FeedError } from './types.ts';

const parse = (text: string | Buffer, opts: DelimitedOptions, size?: number) => drain(parseDelimited(chunked(text, size), opts));

describe('splitQuotedLine', () => {
  const cases: Array<[string, string[] | undefined]> = [
    ['a,b,c', ['a', 'b', 'c']],
    ['"a","b","c"', ['a', 'b', 'c']],
    ['"a,1","b ""x""",c', ['a,1', 'b "x"', 'c']],
    ['"",,""', ['', '', '']],
    ['a,', ['a', '']],
    ['"ab"cd,e', ['abcd', 'e']],
    ['x,"open', undefined],
    ['"a""', undefined],
  ];
  for (const [line, want] of cases) test(JSON.stringify(line), () => assert.deepEqual(splitQuotedLine(line, ','), want));
});

describe('parseDelimited', () => {
  test('RFC 4180: quoted newlines, doubled quotes, CRLF, the same at every chunk size', async () => {
    const text = 'id,value,note\r\n1,"1.2.3.4","multi\r\nline ""note"""\r\n2,evil.example.net,plain\r\n3,"a,b.example.net",x\r\n';
    for (const size of [1, 2, 3, 7, 64]) {
      const d = await parse(text, { header: true, value: 'value' }, size);
      assert.deepEqual(values(d), ['1.2.3.4', 'evil.example.net', 'a,b.example.net'], `chunk size ${size}`);
      assert.equal(d.records[0]?.fields?.['note'], 'multi\nline "note"');
      assert.equal(d.records[0]?.where, 'line 2');
      assert.equal(d.records[1]?.where, 'line 4');
    }
  });

  test('comment lines by prefix, explicit column names, index mapping, TSV', async () => {
    const abusech = '# "first_seen_utc","dst_ip","dst_port"\n"2026-01-01","51.178.161.32","443"\n# END\n';
    assert.deepEqual(values(await parse(abusech, { columns: ['first_seen_utc', 'dst_ip', 'dst_port'], value: 'dst_ip' })), ['51.178.161.32']);
    assert.deepEqual(values(await parse(abusech, { value: 1 })), ['51.178.161.32']);
    assert.deepEqual(values(await parse('a\tb\n1\t9.9.9.8\n', { delimiter: '\t', header: true, value: 'b' })), ['9.9.9.8']);
    assert.deepEqual(values(await parse('// x\n1;2\n', { delimiter: ';', comment: ['//'], value: 1 })), ['2']);
  });

  test('header: true on an abuse.ch file takes the header from the last comment line, never by guess', async () => {
    const abusech = '################\n# "first_seen_utc","dst_ip","dst_port"\n"2026-01-01","51.178.161.32","443"\n"2026-01-02","162.243.103.246","80"\n';
    const d = await parse(abusech, { header: true, value: 'dst_ip' });
    assert.deepEqual(values(d), ['51.178.161.32', '162.243.103.246']);
    assert.equal(d.records[0]?.fields?.['dst_port'], '443');
    await assert.rejects(parse(abusech, { header: true, value: 'ip' }), (e: unknown) => e instanceof FeedError && e.code === 'bad-config');
  });

  test('a type column is mapped through the vocabulary and typeMap; unknown labels are counted skips', async () => {
    const d = await parse('v,t\n1.2.3.4,ip-dst\nevil.example.net,hostname\nx,text\n5.6.7.8,custom\n', { header: true, value: 'v', typeColumn: 't', vocabulary: 'misp', typeMap: { custom: 'ipv4' } });
    assert.deepEqual(d.records.map((r) => [r.type, r.value]), [['ipv4', '1.2.3.4'], ['domain', 'evil.example.net'], ['ipv4', '5.6.7.8']]);
    assert.deepEqual(d.skips, ['unsupported-type:text']);
  });

  test('bad records are counted rejections: missing column, unterminated quote at the end, too long', async () => {
    const d = await parse('a,b\n1\n2,"never closed\n', { header: true, value: 'b' });
    assert.deepEqual(d.rejections.map((r) => r.reason), ['missing-column', 'unterminated-quote']);
    const long = `1,"${'x'.repeat(300)}\n${'y'.repeat(300)}"\n2,ok.example.net\n`;
    const d2 = await parse(long, { value: 1, maxRecordBytes: 400 });
    assert.deepEqual(values(d2), ['ok.example.net']);
    assert.deepEqual(d2.rejections.map((r) => r.reason), ['record-too-long']);
  });

  test('a megabyte line is rejected without stopping the feed', async () => {
    const text = `1,a.example.net\n2,${'z'.repeat(3 << 20)}\n3,b.example.net\n`;
    const d = await parse(text, { value: 1 }, 1 << 16);
    assert.deepEqual(values(d), ['a.example.net', 'b.example.net']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['line-too-long', 'line 2']]);
  });

  test('BOMs: UTF-8 stripped, UTF-16 LE/BE decoded', async () => {
    const text = 'value\r\nevil.example.net\r\n';
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const input of [utf8, le, be]) {
      const d = await parse(input, { header: true, value: 'value' }, 3);
      assert.deepEqual(values(d), ['evil.example.net']);
    }
  });

  test('UTF-16 without a BOM is a clear error, not a stream of odd values', async () => {
    await assert.rejects(parse(Buffer.from('value\nevil.example.net\n', 'utf16le'), { header: true, value: 'value' }), (e: unknown) => e instanceof FeedError && e.code === 'invalid-encoding');
  });

  test('invalid UTF-8 is a counted rejection of that line only', async () => {
    const bad = Buffer.concat([Buffer.from('v\na.example.net\n'), Buffer.from([0x62, 0xff, 0xfe, 0x0a]), Buffer.from('c.example.net\n')]);
    const d = await parse(bad, { header: true, value: 'v' });
    assert.deepEqual(values(d), ['a.example.net', 'c.example.net']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['invalid-encoding', 'line 3']]);
  });

  test('an HTML page instead of CSV is a clear fatal error', async () => {
    await assert.rejects(parse('\n  <!DOCTYPE html><html><body>Login</body></html>', { value: 0 }), (e: unknown) => e instanceof FeedError && e.code === 'html-instead-of-data');
  });

  test('configuration errors name the problem', async () => {
    await assert.rejects(parse('a,b\n1,2\n', { header: true, value: 'nope' }), (e: unknown) => e instanceof FeedError && e.code === 'bad-config' && e.message.includes('"nope"'));
    await assert.rejects(parse('1,2\n', { value: 'name' }), (e: unknown) => e instanceof FeedError && e.code === 'bad-config');
    await assert.rejects(parse('1,2\n', { value: 0, delimiter: '""' }), (e: unknown) => e instanceof FeedError && e.code === 'bad-config');
  });
});
