import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { Feed, FeedSpec } from '../api/types.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { credentialsFromSecret, feedToConfig } from './feedconfig.ts';
import { PRESETS } from './presets.ts';
import { durationMs, ProposalMetaError, recordSpecFields, toThreatIndicator } from './propose.ts';
import { keySigner } from './signer.ts';
import { FeedError } from './types.ts';
import { SigningKey } from '../domain/signature.ts';
import { metaJson, verifyProposal } from '../domain/entry.ts';
import { localProposal } from '../exchange/partner/forwarder.ts';

const samplesDir = new URL('../../../config/samples/feeds/', import.meta.url);

describe('Feed samples in config/samples/feeds', () => {
  test('every preset has a sample; every sample validates against the Feed CRD schema and yields an ingestion config', async () => {
    const files = (await readdir(samplesDir)).filter((f) => f.endsWith('.yaml'));
    const validator = validatorFor(createValidators(), 'Feed');
    const presetsSeen = new Set<string>();
    for (const f of files) {
      for (const doc of parseAllDocuments(await readFile(new URL(f, samplesDir), 'utf8'))) {
        const feed = doc.toJS() as Feed;
        assert.deepEqual(validator.validate(feed), { ok: true }, f);
        const secret = feed.spec.secretRef === undefined ? undefined : { token: 'x' };
        const cfg = feedToConfig(feed.spec, secret);
        if (feed.spec.preset !== undefined) {
          presetsSeen.add(feed.spec.preset);
          assert.equal(feed.spec.url, PRESETS[feed.spec.preset]?.url, `${f}: url matches the preset`);
          assert.deepEqual(cfg.parser, PRESETS[feed.spec.preset]?.parser);
        }
      }
    }
    assert.deepEqual([...presetsSeen].sort(), Object.keys(PRESETS).sort());
    assert.ok(files.includes('misp-circl-osint.yaml') && files.includes('taxii-collection.yaml'));
  });
});

describe('feedToConfig', () => {
  const base: FeedSpec = { url: 'https://feeds.example.org/x.csv', format: 'csv', schedule: { interval: '1h' } };

  test('csv mapping by column, type column with typeMap, limits and defaults.type', () => {
    const cfg = feedToConfig({ ...base, mapping: { header: true, comment: '#', value: { column: 'indicator' }, type: { column: 'kind' }, typeMap: { IP: 'ipv4' } }, limits: { maxBytes: 1000, timeoutSeconds: 5 } });
    assert.deepEqual(cfg.parser, { format: 'csv', csv: { delimiter: undefined, header: true, comment: ['#'], skipLines: undefined, value: 'indicator', type: undefined, typeColumn: 'kind', typeMap: { IP: 'ipv4' } } });
    assert.deepEqual(cfg.fetch, { maxBytes: 1000, timeoutMs: 5000 });
    const lines = feedToConfig({ ...base, format: 'lines', defaults: { type: 'domain' } });
    assert.deepEqual(lines.parser, { format: 'lines', lines: { type: 'domain', comment: undefined } });
  });

  test('bad specs are configuration errors that say what to change', () => {
    const bad = (spec: FeedSpec, re: RegExp): void => assert.throws(() => feedToConfig(spec), (e: unknown) => e instanceof FeedError && e.code === 'bad-config' && re.test(e.message));
    bad({ ...base }, /mapping\.value/);
    bad({ ...base, preset: 'nope' }, /unknown preset/);
    bad({ ...base, preset: 'openphish' }, /reads format lines/);
    bad({ ...base, mapping: { value: { jsonPath: 'a.b' } } }, /column or index/);
    bad({ ...base, format: 'json', mapping: { value: { column: 'a' } } }, /jsonPath/);
  });

  test('credentials from Secret data', () => {
    assert.deepEqual(credentialsFromSecret({ username: 'u', password: 'p' }), { kind: 'basic', username: 'u', password: 'p' });
    assert.deepEqual(credentialsFromSecret({ token: 't\n' }), { kind: 'bearer', token: 't' });
    assert.deepEqual(credentialsFromSecret({ header: 'X-Api-Key: abc' }), { kind: 'header', name: 'X-Api-Key', value: 'abc' });
    assert.deepEqual(credentialsFromSecret({ apikey: 'k' }, 'apikey'), { kind: 'bearer', token: 'k' });
    assert.throws(() => credentialsFromSecret({}), FeedError);
  });
});

describe('proposals', () => {
  test('durations', () => {
    assert.equal(durationMs('30d'), 30 * 86_400_000);
    assert.equal(durationMs('1h30m'), 5_400_000);
    assert.throws(() => durationMs('soon'));
  });

  test('per-record labels, confidence and validity from the Feed mapping.fields', async () => {
    const fields = { malware: 'QakBot', tags: 'elf, Mozi ,', score: '87.6', first_seen_utc: '2026-11-20 07:44:46', until: 'not a date' };
    const extra = recordSpecFields(fields, { labels: { column: 'malware' }, confidence: { column: 'score' }, validFrom: { column: 'first_seen_utc' }, validUntil: { column: 'until' } });
    assert.deepEqual(extra, { labels: ['QakBot'], confidence: 88, validFrom: '2026-11-20T07:44:46.000Z' });
    assert.deepEqual(recordSpecFields(fields, { labels: { jsonPath: 'tags' } }).labels, ['elf', 'Mozi']);
    // Impossible dates are left out, not rolled over to the next day or month.
    for (const bad of ['2026-04-31 10:00:00', '2026-11-20T24:00:00Z', '2026-02-29']) assert.equal(recordSpecFields({ at: bad }, { validFrom: { column: 'at' } }).validFrom, undefined, bad);
    const ti = await toThreatIndicator({ type: 'ipv4', value: '51.178.161.32', pattern: 'p', digest: 'd' }, { namespace: 'tm', feed: 'tm/f', feedName: 'f', labels: ['botnet-c2'], validForMs: 1000, now: () => new Date('2026-11-25T00:00:00Z') }, extra);
    assert.deepEqual(ti.spec.labels, ['botnet-c2', 'QakBot']);
    assert.equal(ti.spec.confidence, 88);
    assert.equal(ti.spec.validFrom, '2026-11-20T07:44:46.000Z');
    assert.equal(ti.spec.validUntil, '2026-11-25T00:00:01.000Z');
  });

  test('a feed label with a lone surrogate (from a JSON escape) is refused as metadata that cannot be signed, not thrown', async () => {
    const extra = recordSpecFields({ tags: ['botnet', 'c2\ud800'] }, { labels: { jsonPath: 'tags' } });
    const ctx = { namespace: 'tm', feed: 'tm/f', feedName: 'f', partnerId: 'acme', signer: keySigner(SigningKey.generate()), now: () => new Date('2026-11-25T00:00:00Z') };
    await assert.rejects(toThreatIndicator({ type: 'ipv4', value: '51.178.161.32', pattern: 'p', digest: 'd' }, ctx, extra), (e: unknown) => e instanceof ProposalMetaError && /meta.labels\[1\] contains a lone UTF-16 surrogate/.test(e.message));
  });

  test('a ThreatIndicator named by digest, with defaults, validity, provenance and a proposal signature', async () => {
    const signer = SigningKey.generate();
    const now = new Date('2026-11-25T12:00:00Z');
    const ti = await toThreatIndicator({ type: 'ipv4', value: '51.178.161.32', pattern: "[ipv4-addr:value = '51.178.161.32']", digest: 'x' }, { namespace: 'tm', feed: 'tm/feodo', feedName: 'feodo', partnerId: 'acme', signer: keySigner(signer), confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validForMs: 86_400_000, now: () => now });
    assert.match(ti.metadata.name, /^ipv4-[0-9a-f]{40}$/);
    assert.equal(ti.metadata.labels?.['threatmesh.io/feed'], 'feodo');
    assert.equal(ti.spec.validUntil, '2026-11-26T12:00:00.000Z');
    assert.deepEqual(ti.spec.provenance, { feed: 'tm/feodo', partner: 'acme', proposedAt: '2026-11-25T12:00:00.000Z' });
    assert.equal(ti.spec.proposal?.partnerId, 'acme');
    // The proposal signs the indicator with the spec's metadata, exactly what the forwarder sends.
    const meta = { confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validFrom: '2026-11-25T12:00:00.000Z', validUntil: '2026-11-26T12:00:00.000Z', source: 'tm/feodo' } as const;
    const ind = { type: 'ipv4', value: '51.178.161.32' } as const;
    assert.equal(verifyProposal(signer.publicKey, 'add', ind, ti.spec.proposal?.signature ?? '', meta), true);
    assert.equal(verifyProposal(signer.publicKey, 'add', ind, ti.spec.proposal?.signature ?? ''), false);
    assert.equal(localProposal(ti, 'acme')?.metaJson, metaJson(meta));
    const validator = validatorFor(createValidators(), 'ThreatIndicator');
    assert.deepEqual(validator.validate(ti), { ok: true });
  });
});
