import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorDigest } from '../domain/canonical.ts';
import { stixIndicatorId } from '../domain/stix.ts';
import { buildReport, indicatorIdOfDigest, reportPayload } from './report.ts';

const ind = { type: 'domain' as const, value: 'evil.example' };
const digest = indicatorDigest(ind);
const at = (s: string): Date => new Date(s);

test('a sighting report holds digests, counts and buckets only, with deterministic ids', () => {
  const facts = [{ digest, bucketStart: at('2024-05-01T12:00:00Z'), count: 3, firstSeen: at('2024-05-01T12:00:01Z'), lastSeen: at('2024-05-01T12:59:00Z') }];
  const r1 = buildReport('partner-a', facts, at('2024-05-02T00:00:00Z'));
  const r2 = buildReport('partner-a', facts, at('2024-05-03T00:00:00Z'));
  const s = r1.sightings[0];
  assert.ok(s);
  assert.equal(s.sighting_of_ref, stixIndicatorId(ind), 'the same indicator id the STIX export uses');
  assert.equal(indicatorIdOfDigest(digest), stixIndicatorId(ind));
  assert.equal(s.id, r2.sightings[0]?.id);
  assert.deepEqual(Object.keys(s).sort(), ['count', 'created', 'created_by_ref', 'first_seen', 'id', 'last_seen', 'modified', 'sighting_of_ref', 'spec_version', 'type', 'where_sighted_refs', 'x_threatmesh_bucket', 'x_threatmesh_digest']);
  const text = reportPayload(r1).toString();
  assert.ok(!text.includes('evil.example'), 'the value itself is not in the report');
});

test('buckets without counts and malformed digests are left out', () => {
  const r = buildReport('p', [
    { digest, bucketStart: at('2024-05-01T12:00:00Z'), count: 0, firstSeen: at('2024-05-01T12:00:00Z'), lastSeen: at('2024-05-01T12:00:00Z') },
    { digest: 'not-a-digest', bucketStart: at('2024-05-01T12:00:00Z'), count: 2, firstSeen: at('2024-05-01T12:00:00Z'), lastSeen: at('2024-05-01T12:00:00Z') },
  ], at('2024-05-02T00:00:00Z'));
  assert.equal(r.sightings.length, 0);
});
