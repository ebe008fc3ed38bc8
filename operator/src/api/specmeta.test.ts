import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ThreatIndicatorSpec } from './types.ts';
import { metaOfSpec, withMeta } from './specmeta.ts';

const base: ThreatIndicatorSpec = { type: 'domain', value: 'evil.example', pattern: "[domain-name:value = 'evil.example']", provenance: { partner: 'alpha', proposedAt: '2026-11-25T00:00:00.000Z' } };

describe('spec metadata', () => {
  test('a spec without metadata members has no metadata', () => {
    assert.deepEqual(metaOfSpec(base), { ok: true, meta: undefined });
    assert.equal(withMeta(base, undefined), base);
  });

  test('metadata written into a spec reads back unchanged', () => {
    const meta = { tlp: 'red', confidence: 5, labels: ['x', 'y'], validFrom: '2026-11-25T00:00:00.000Z', validUntil: '2026-11-26T00:00:00.000Z', source: 'ns/feed' } as const;
    const spec = withMeta(base, meta);
    assert.deepEqual(metaOfSpec(spec), { ok: true, meta });
    assert.equal(spec.provenance?.partner, 'alpha');
  });

  test('a spec whose members the exchange would refuse says why', () => {
    const r = metaOfSpec({ ...base, labels: ['a', 'a'] });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.message, /must not repeat/);
  });
});
