import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { validatorFor, createValidators } from '../../api/validate.ts';
import { FIXTURES_DIR } from '../sandbox/feedserver.ts';
import { PRESET_SNAPSHOTS, SAMPLE_FEED, feedPlan, sandboxFeedObject } from './sandbox.ts';

describe('feedPlan', () => {
  test('by default the bundled sample', () => {
    const p = feedPlan({});
    assert.equal(p.preset, undefined);
    assert.equal(p.format, 'lines');
    assert.equal(p.path, SAMPLE_FEED);
    assert.ok(existsSync(SAMPLE_FEED));
  });

  test('a preset alone: its bundled snapshot, served by name', () => {
    const p = feedPlan({ preset: 'feodo' });
    assert.equal(p.format, 'csv');
    assert.equal(p.path, undefined);
    assert.equal(p.servedName, 'feodo-ipblocklist.csv');
  });

  test('a preset alone ingests its snapshot; every listed snapshot is bundled', () => {
    assert.equal(feedPlan({ preset: 'openphish' }).servedName, 'openphish-feed.txt');
    for (const file of Object.values(PRESET_SNAPSHOTS)) assert.ok(existsSync(new URL(file, FIXTURES_DIR)), `${file} missing from fixtures`);
  });

  test('a source file with a format, or with a preset that brings the format', () => {
    const p = feedPlan({ source: 'iocs.txt', format: 'lines' });
    assert.equal(p.format, 'lines');
    assert.equal(p.preset, undefined);
    assert.match(p.path ?? '', /\/iocs\.txt$/);
    assert.equal(feedPlan({ source: 'x.csv', preset: 'urlhaus' }).format, 'csv');
  });

  const bad: Array<[string, Parameters<typeof feedPlan>[0], RegExp]> = [
    ['unknown preset', { preset: 'nope' }, /unknown --preset "nope"; presets: .*feodo/],
    ['source without format', { source: 'x.txt' }, /--source needs --format/],
    ['bad format', { source: 'x.txt', format: 'misp' }, /--format must be one of lines, csv/],
    ['format without source', { format: 'lines' }, /--format applies to --source FILE/],
  ];
  for (const [name, flags, want] of bad) test(name, () => assert.throws(() => feedPlan(flags), want));
});

test('the sandbox Feed is valid against the Feed schema', () => {
  const feed = sandboxFeedObject(feedPlan({ source: '/tmp/my iocs.txt', format: 'lines' }), 'http://127.0.0.1:4000/');
  assert.equal(feed.spec.url, 'http://127.0.0.1:4000/my%20iocs.txt');
  const v = validatorFor(createValidators(), 'Feed').validate(feed);
  assert.ok(v.ok, JSON.stringify(v));
});
