import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { ThreatIndicator } from '../../api/types.ts';
import { MemoryKube } from '../../controllers/fixtures.ts';
import { createLogger } from '../../log.ts';
import { evict } from './workingset.ts';

const log = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const window = { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-25T11:00:00.000Z' };

function ti(name: string, logIndex: number): ThreatIndicator {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: 'tm' }, spec: { type: 'domain', value: `${name}.example`, pattern: `[domain-name:value = '${name}.example']` }, status: { logIndex } };
}

// Each row: what happens to the object between the eviction's list and its delete; whether it is deleted.
const rows: Array<[string, (kube: MemoryKube, o: ThreatIndicator) => void, boolean]> = [
  ['unchanged since the list: deleted', () => undefined, true],
  ['revoked since the list (now above the floor): kept, judged on what it is now', (kube, o) => { kube.seed(THREAT_INDICATORS, { ...o, status: { ...o.status, revocation: { logIndex: 20, proposerId: 'bravo', signature: 'cmV2', window, votes: [] } } }); }, false],
  ['pinned since the list: kept', (kube, o) => { kube.seed(THREAT_INDICATORS, { ...o, metadata: { ...o.metadata, labels: { 'threatmesh.io/pinned': 'true' } } }); }, false],
  ['written since the list but still below the floor: deleted as it is now', (kube, o) => { kube.seed(THREAT_INDICATORS, { ...o, metadata: { ...o.metadata, labels: { team: 'x' } } }); }, true],
  ['deleted and created again since the list (another uid), still below the floor: deleted as it is now', (kube, o) => { kube.objects.clear(); kube.seed(THREAT_INDICATORS, { ...o, metadata: { name: o.metadata.name, namespace: 'tm' } }); }, true],
  ['gone since the list: nothing to do', (kube) => { kube.objects.clear(); }, true],
];
for (const [name, meanwhile, deleted] of rows) {
  test(`eviction of an object ${name}`, async () => {
    const kube = new MemoryKube();
    const listed = kube.seed(THREAT_INDICATORS, ti('old', 3));
    meanwhile(kube, listed);
    const before = kube.peek<ThreatIndicator>(THREAT_INDICATORS, 'old', 'tm');
    const { gone, changed } = await evict({ client: kube, namespace: 'tm', log }, [listed], 10);
    const after = kube.peek<ThreatIndicator>(THREAT_INDICATORS, 'old', 'tm');
    assert.equal(after === undefined, deleted);
    assert.equal(gone.has('old'), deleted);
    if (!deleted) assert.deepEqual(changed.get('old'), before, 'the repair judges the object as it is now');
  });
}
