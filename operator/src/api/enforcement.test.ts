import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePolicy, type EnforcementPolicySpec } from './enforcement.ts';
import { createValidators, validatorFor } from './validate.ts';
import { DECAY_PARTIES_CONFLICT } from './schemas/enforcementpolicy.ts';
import { statusAfterSync } from '../controllers/enforcementstatus.ts';
import type { SyncReport } from '../enforce/enforcer.ts';

const validators = createValidators();

function policy(confidenceDecay: Record<string, unknown>): { apiVersion: string; kind: string; metadata: { name: string; namespace: string; generation: number }; spec: EnforcementPolicySpec } {
  return {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name: 'p', namespace: 'n', generation: 1 },
    spec: { selector: { minConfidence: 40, confidenceDecay: { halfLife: '30d', ...confidenceDecay } } },
  };
}

describe('confidenceDecay.minSightingParties and its deprecated name minParties (docs/adr/2026-12-07-sighting-party-thresholds.md)', () => {
  // [name, confidenceDecay fields, parties the decay reads or the refusal, whether it is reported as deprecated]
  const cases: Array<[string, Record<string, unknown>, number | RegExp, boolean]> = [
    ['neither: one party suffices', {}, 1, false],
    ['minSightingParties is read', { minSightingParties: 2 }, 2, false],
    ['an existing object with the deprecated minParties keeps its meaning', { minParties: 3 }, 3, true],
    ['both, equal (a rename half done): accepted, still reported', { minParties: 2, minSightingParties: 2 }, 2, true],
    ['both, different: refused, not silently one of them', { minParties: 1, minSightingParties: 3 }, new RegExp(DECAY_PARTIES_CONFLICT.slice(0, 40)), false],
    ['minSightingParties 0 is refused', { minSightingParties: 0 }, /minSightingParties/, false],
    ['minParties 0 is still refused', { minParties: 0 }, /minParties/, false],
  ];
  for (const [name, fields, want, deprecated] of cases) {
    test(name, () => {
      const obj = policy(fields);
      const checked = validatorFor(validators, 'EnforcementPolicy').validate(obj);
      if (want instanceof RegExp) {
        assert.equal(checked.ok, false, 'the API server would accept it');
        assert.match(checked.ok ? '' : checked.errors.join('; '), want);
        return;
      }
      assert.deepEqual(checked, { ok: true });
      const resolved = resolvePolicy(obj.spec);
      assert.equal(resolved.selector.decay?.minSightingParties, want);
      assert.equal(resolved.deprecated.length > 0, deprecated, resolved.deprecated.join('; '));
      const report: SyncReport = { selected: 0, skipped: {}, decayed: 0, highWater: 0, changed: false, errors: [] } as unknown as SyncReport;
      const ready = statusAfterSync(obj, resolved, report, true, new Date(0)).conditions?.find((c) => c.type === 'Ready');
      assert.equal(/minParties is deprecated: rename it to minSightingParties/.test(ready?.message ?? ''), deprecated, ready?.message);
    });
  }
});
