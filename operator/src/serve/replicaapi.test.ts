import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourcePath, parseSelectors } from './replicaapi.ts';
import { recordPhase, replicaIndicator, tableCells } from './replicaview.ts';
import { digestRange } from '../store/indicatorpages.ts';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import type { IndicatorRecord } from '../store/indicators.ts';

const P = '/apis/replica.threatmesh.io/v1alpha1';

test('resource paths: all namespaces, one namespace, one object; anything else is not ours', () => {
  const cases: Array<[string, ReturnType<typeof parseResourcePath>]> = [
    [`${P}/threatindicators`, { namespace: '' }],
    [`${P}/namespaces/tm/threatindicators`, { namespace: 'tm' }],
    [`${P}/namespaces/tm/threatindicators/ipv4-abc`, { namespace: 'tm', name: 'ipv4-abc' }],
    [`${P}/namespaces/tm/threatindicators/`, undefined],
    [`${P}/namespaces//threatindicators`, undefined],
    [`${P}/namespaces/tm/feeds`, undefined],
    [`${P}/namespaces/tm/threatindicators/a/status`, undefined],
    ['/apis/threatmesh.io/v1alpha1/threatindicators', undefined],
  ];
  for (const [path, want] of cases) assert.deepEqual(parseResourcePath(path), want, path);
});

test('selectors: metadata.name, metadata.namespace and threatmesh.io/type; others refused with what works', () => {
  const cases: Array<[string, Record<string, string> | RegExp]> = [
    ['', {}],
    ['fieldSelector=metadata.name%3Dipv4-x', { name: 'ipv4-x' }],
    ['fieldSelector=metadata.namespace%3D%3Dtm&labelSelector=threatmesh.io%2Ftype%3Ddomain', { namespace: 'tm', type: 'domain' }],
    ['fieldSelector=status.phase%3DApproved', /metadata\.name=NAME/],
    ['labelSelector=app%3Dx', /threatmesh\.io\/type=TYPE/],
    ['labelSelector=threatmesh.io%2Ftype!%3Dipv4', /not supported/],
  ];
  for (const [query, want] of cases) {
    const got = parseSelectors(new URLSearchParams(query));
    if (want instanceof RegExp) assert.match('refused' in got ? got.refused : '', want, query);
    else assert.deepEqual(got, want, query);
  }
});

test('object names map to a digest range that holds exactly the digests with that prefix', () => {
  const ind = { type: 'domain' as const, value: 'evil.example' };
  const digest = indicatorDigest(ind);
  const r = digestRange(indicatorObjectName(ind));
  assert.ok(r !== undefined && r.type === 'domain' && digest >= r.from && digest < r.to);
  for (const bad of ['domain-XYZ', 'domain', `domain-${digest}`, `-${digest.slice(0, 40)}`]) assert.equal(digestRange(bad), undefined, bad);
});

test('a record renders as the ThreatIndicator a replica writes: phase, votes, metadata, revocation', () => {
  const digest = indicatorDigest({ type: 'ipv4', value: '198.51.100.7' });
  const base: IndicatorRecord = {
    digest, type: 'ipv4', value: '198.51.100.7', state: 'active', logIndex: 4, proposerId: 'a',
    votes: [{ partnerId: 'a', decision: 'approve', signedAt: 't', signature: 's', batch: '0 1 r' }, { partnerId: 'b', decision: 'reject', signedAt: 't', signature: 's', reason: 'no' }],
    window: { opensAt: '2026-01-01T00:00:00.000Z', closesAt: '2026-01-02T00:00:00.000Z' }, proposalSignature: 'p', meta: { tlp: 'amber', validUntil: '2026-06-01T00:00:00Z' }, addedAt: new Date('2026-01-01T00:00:01.234Z'),
  };
  const now = new Date('2026-03-01T00:00:00Z');
  const cases: Array<[IndicatorRecord, Date, string]> = [
    [base, now, 'Approved'], [base, new Date('2026-07-01T00:00:00Z'), 'Expired'], [{ ...base, state: 'revoked' }, now, 'Revoked'],
  ];
  for (const [r, at, phase] of cases) assert.equal(recordPhase(r, at), phase);
  const o = replicaIndicator(base, 'tm', now);
  assert.equal(o.metadata.name, indicatorObjectName({ type: 'ipv4', value: '198.51.100.7' }));
  assert.equal(o.metadata.creationTimestamp, '2026-01-01T00:00:01Z');
  assert.deepEqual([o.spec.tlp, o.spec.pattern, o.spec.proposal?.signature, o.status.quorum?.approvals, o.status.quorum?.rejections], ['amber', "[ipv4-addr:value = '198.51.100.7']", 'p', 1, 1]);
  assert.equal(o.status.votes?.[1]?.reason, 'no');
  assert.deepEqual(o.status.votes?.map((v) => v.batch), ['0 1 r', undefined], 'a protocol v2 batch vote keeps its proof: the certificate verifies from the object');
  assert.equal(tableCells(o).length, 8);
  assert.match(o.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
