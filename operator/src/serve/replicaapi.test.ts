import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourcePath } from './replicaapi.ts';
import { parseSelectors } from './replicaselector.ts';
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

const N1 = `domain-${'a'.repeat(40)}`;
const N2 = `ipv4-${'b'.repeat(40)}`;
const many = (n: number): string => Array.from({ length: n }, (_, i) => `domain-${i.toString(16).padStart(40, '0')}`).join(',');
const q = (params: Record<string, string>): string => new URLSearchParams(params).toString();

test('selectors: metadata.name/namespace fields, threatmesh.io/type and threatmesh.io/name labels with = and in; others refused with what works', () => {
  const cases: Array<[string, object | RegExp]> = [
    ['', {}],
    ['fieldSelector=metadata.name%3Dipv4-x', { names: ['ipv4-x'] }],
    ['fieldSelector=metadata.namespace%3D%3Dtm&labelSelector=threatmesh.io%2Ftype%3Ddomain', { namespace: 'tm', types: ['domain'] }],
    [q({ labelSelector: `threatmesh.io/name in (${N1}, ${N2},${N1})` }), { names: [N1, N2] }],
    [q({ labelSelector: `threatmesh.io/name in (${N1},${N2}),threatmesh.io/type in (ipv4, domain)` }), { names: [N1, N2], types: ['ipv4', 'domain'] }],
    // Terms are ANDed: two name terms intersect, and a field name narrows a label set.
    [q({ labelSelector: `threatmesh.io/name in (${N1},${N2}),threatmesh.io/name=${N2}` }), { names: [N2] }],
    [q({ labelSelector: `threatmesh.io/name in (${N1})`, fieldSelector: `metadata.name=${N2}` }), { names: [] }],
    [q({ labelSelector: `threatmesh.io/name==${N1}` }), { names: [N1] }],
    [q({ labelSelector: `threatmesh.io/name in (${many(1000)})` }), { names: many(1000).split(',') }],
    // Refused: what a hostile or mistaken caller may send.
    [q({ labelSelector: `threatmesh.io/name in (${many(1001)})` }), /names 1001 objects; at most 1000 per request/],
    ['fieldSelector=status.phase%3DApproved', /metadata\.name=NAME/],
    [q({ fieldSelector: `metadata.name in (${N1})` }), /labelSelector=threatmesh\.io\/name in/],
    ['labelSelector=app%3Dx', /threatmesh\.io\/type=TYPE/],
    ['labelSelector=threatmesh.io%2Ftype!%3Dipv4', /not supported/],
    [q({ labelSelector: `threatmesh.io/name notin (${N1})` }), /not supported/],
    [q({ labelSelector: 'threatmesh.io/name' }), /not supported/],
    [q({ labelSelector: '!threatmesh.io/name' }), /not supported/],
    [q({ labelSelector: 'threatmesh.io/name in ()' }), /set is empty/],
    [q({ labelSelector: `threatmesh.io/name in (${N1}` }), /unclosed/],
    [q({ labelSelector: `threatmesh.io/name in ((${N1}))` }), /unbalanced/],
    [q({ labelSelector: `threatmesh.io/name in (${N1}))` }), /unbalanced/],
    [q({ labelSelector: 'threatmesh.io/name in ({"$ne":null})' }), /not a valid label value/],
    [q({ labelSelector: 'threatmesh.io/name=a b' }), /not supported/],
    [q({ labelSelector: 'threatmesh.io/name in (a/b,c)' }), /not a valid label value/],
    [q({ labelSelector: `threatmesh.io/name in (${'x'.repeat(64)})` }), /not a valid label value/],
    [q({ labelSelector: 'threatmesh.io/name in (-leading)' }), /not a valid label value/],
    [q({ labelSelector: 'threatmesh.io/name in (caf\u00e9)' }), /not a valid label value/],
  ];
  for (const [query, want] of cases) {
    const got = parseSelectors(new URLSearchParams(query));
    if (want instanceof RegExp) assert.match('refused' in got ? got.refused : JSON.stringify(got), want, query.slice(0, 120));
    else assert.deepEqual(got, want, query.slice(0, 120));
  }
});

test('every served object carries the labels its selectors match: its type and its own name', () => {
  const value = '198.51.100.9';
  const digest = indicatorDigest({ type: 'ipv4', value });
  const o = replicaIndicator({ digest, type: 'ipv4', value, state: 'active', logIndex: 1, proposerId: 'a', votes: [] }, 'tm', new Date());
  assert.deepEqual(o.metadata.labels, { 'threatmesh.io/type': 'ipv4', 'threatmesh.io/name': o.metadata.name });
  const sel = parseSelectors(new URLSearchParams(q({ labelSelector: `threatmesh.io/name in (${o.metadata.name})` })));
  assert.deepEqual(sel, { names: [o.metadata.name] });
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
