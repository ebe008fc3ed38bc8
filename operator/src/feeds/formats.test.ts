/** STIX bundles, MISP feeds and the presets against the fixture files (written to the published layouts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openFile } from './fetch.ts';
import { parsePayload } from './ingest.ts';
import { parseMispFeed, readManifest } from './misp.ts';
import { PRESETS } from './presets.ts';
import { parseStixBundle } from './stix.ts';
import { chunked, drain, fixture, values } from './testing.ts';
import { FeedError } from './types.ts';

describe('STIX 2.1 bundle', () => {
  test('indicators become records (OR-ed patterns give several); other objects are counted skips', async () => {
    const d = await drain(parseStixBundle((await openFile(fixture('stix-bundle.json'))).body));
    assert.deepEqual(d.records.map((r) => [r.type, r.value]), [
      ['ipv4', '162.243.103.246'],
      ['domain', 'login-secure.bad-bank.example-evil.net'],
      ['sha256', 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'],
    ]);
    assert.equal(d.records[0]?.fields?.['id'], 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f');
    assert.deepEqual([...d.skips].sort(), ['stix-not-indicator', 'stix-not-indicator', 'stix-not-indicator', 'stix-revoked', 'stix-unsupported-pattern-type']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['unsupported-stix-pattern', 'objects[5]']]);
  });

  test('a bundle cut off mid-stream fails as truncated', async () => {
    const text = (await import('node:fs/promises')).readFile(fixture('stix-bundle.json'), 'utf8');
    const cut = (await text).slice(0, 1500);
    await assert.rejects(drain(parseStixBundle(chunked(cut, 100))), (e: unknown) => e instanceof FeedError && e.code === 'truncated');
  });
});

describe('MISP feed', () => {
  const open = async (name: string) => (await openFile(join(fixture('misp'), name))).body;

  test('manifest lists the events; attribute types map; to_ids=false, deleted and unsupported types are counted skips', async () => {
    assert.deepEqual(await readManifest(await open('manifest.json')), ['5f6b1b5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b', '6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d']);
    const d = await drain(parseMispFeed(open));
    assert.deepEqual(d.records.map((r) => [r.type, r.value]), [
      ['ipv4', '94.131.107.12'],
      ['ipv4', '185.224.128.17'],
      ['domain', 'gate.lumma-c2.example-evil.net'],
      ['ipv4', '45.11.116.9'],
      ['url', 'hxxp://gate.lumma-c2.example-evil[.]net/c2/sock'],
      ['sha256', 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'],
      ['md5', 'b1946ac92492d2347c6235b4d2611184'],
      ['domain', 'secure-login.paypa1-verify.com'],
      ['email', 'billing@paypa1-verify.com'],
      ['ipv4', '192.168.1.10'],
    ]);
    assert.deepEqual([...d.skips].sort(), ['misp-deleted', 'misp-not-to-ids', 'misp-not-to-ids', 'misp-not-to-ids', 'unsupported-type:text']);
    assert.equal(d.records[0]?.fields?.['event'], '5f6b1b5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b');
  });

  test('a manifest that is not a MISP manifest is a clear error', async () => {
    await assert.rejects(readManifest(chunked('{"not-a-uuid": {}}')), (e: unknown) => e instanceof FeedError && /event uuid/.test(e.message));
  });
});

describe('presets read the right column of their published layout', () => {
  const cases: Array<[string, string, string[]]> = [
    ['urlhaus', 'urlhaus-csv-recent.csv', ['http://45.155.205.71/bins/mozi.m', 'https://Evil-Downloads.example-bad.top/update/Setup.exe?x=1#frag', 'http://91.92.240.10:8080/x86', 'http://10.0.0.5/payload.sh', 'http://45.155.205.71/bins/mozi.m', 'not a url at all', 'https://cdn.discordapp.com/attachments/1/2/file.exe']],
    ['feodo', 'feodo-ipblocklist.csv', ['51.178.161.32', '162.243.103.246', '185.117.73.147', '8.8.8.8', '51.178.161.32']],
    ['feodo-json', 'feodo-ipblocklist.json', ['51.178.161.32', '162.243.103.246', '185.117.73.147']],
    ['threatfox', 'threatfox-export-recent.json', ['94.131.107.12', 'update-check.badcdn.xyz', 'http://update-check.badcdn.xyz/api/gate.php', '5F4DCC3B5AA765D61D8327DEB882CF99', '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae']],
    ['spamhaus-drop', 'spamhaus-drop.txt', ['1.10.16.0/20', '1.19.0.0/16', '2.56.192.0/22', '5.134.128.0/19', '45.11.116.0/22']],
    ['spamhaus-edrop', 'spamhaus-edrop.txt', ['27.126.160.0/20', '37.221.112.0/21', '103.207.36.0/22']],
    ['et-compromised', 'et-compromised-ips.txt', ['101.35.164.84', '103.110.84.196', '109.205.213.30', '112.78.3.5', '185.224.128.17', '185.224.128.17']],
    ['openphish', 'openphish-feed.txt', ['https://secure-login.paypa1-verify.com/signin/', 'https://rbfcu-star.azurewebsites.net/Main/Login', 'http://docs-viewer.weebly.com/', 'https://ipfs.io/ipfs/bafybeihxyz/index.html', 'https://account-update.netflix-billing-check.com/login.php?id=42']],
    ['blocklist-de', 'blocklist-de-all.txt', ['1.12.226.27', '1.14.8.118', '100.24.251.98', '2001:41d0:303:4b5b::1', '185.224.128.17']],
  ];
  for (const [preset, file, want] of cases) {
    test(preset, async () => {
      const p = PRESETS[preset];
      assert.ok(p);
      const d = await drain(parsePayload(p.parser, (await openFile(fixture(file))).body));
      assert.deepEqual(values(d), want);
      assert.deepEqual(d.rejections, []);
    });
  }

  test('urlhaus keeps the other columns under their published names', async () => {
    const d = await drain(parsePayload(PRESETS['urlhaus']!.parser, (await openFile(fixture('urlhaus-csv-recent.csv'))).body));
    assert.deepEqual(d.records[0]?.fields, { id: '3312001', dateadded: '2026-11-25 18:04:11', url_status: 'online', last_online: '2026-11-25 18:04:11', threat: 'malware_download', tags: 'elf,Mozi', urlhaus_link: 'https://urlhaus.abuse.ch/url/3312001/', reporter: 'lrz_urlhaus' });
  });

  test('feodo keeps port and malware', async () => {
    const d = await drain(parsePayload(PRESETS['feodo']!.parser, (await openFile(fixture('feodo-ipblocklist.csv'))).body));
    assert.deepEqual(d.records[0]?.fields, { first_seen_utc: '2026-11-20 07:44:46', dst_port: '4643', c2_status: 'online', last_online: '2026-11-25', malware: 'QakBot' });
  });
});
