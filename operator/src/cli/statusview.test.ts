import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { EnforcementPolicy, Feed, PartnerNode, ThreatIndicator } from '../api/types.ts';
import { ROUNDS_SHOWN, renderStatusView, statusView, table, type StatusInputs } from './statusview.ts';

const meta = (name: string, creationTimestamp?: string) => ({ name, namespace: 'tm', ...(creationTimestamp ? { creationTimestamp } : {}) });
const feed = (name: string, status?: Feed['status']): Feed => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: meta(name), spec: { url: 'https://x.example/', format: 'csv' } as Feed['spec'], ...(status ? { status } : {}) });
const ti = (name: string, at: string, phase?: 'Proposed' | 'Approved'): ThreatIndicator => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: meta(name, at), spec: { type: 'domain', value: `${name}.example` }, ...(phase ? { status: { phase } } : {}) });
const peer = (id: string, reachable?: boolean): PartnerNode => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: meta(id), spec: { partnerId: id } as PartnerNode['spec'], ...(reachable !== undefined ? { status: { reachable } } : {}) });
const policy = (name: string, leftOut: number): EnforcementPolicy => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: meta(name), spec: { mode: 'LogOnly' }, status: { leftOut } });
const none: StatusInputs = { cluster: 'c', namespace: 'tm', feeds: [], indicators: [], peers: [], policies: [], replica: null };
const halted = { sources: [{ source: 's', nextIndex: 1, treeSize: 1, rootHash: 'a', headTimestamp: 't', halted: { reason: 'fork', message: 'm', index: 1, at: 't' } }], indicators: { active: 0, revoked: 0 }, rejections: 0 };

describe('statusView: what needs attention', () => {
  const cases: ReadonlyArray<{ name: string; inputs: Partial<StatusInputs>; want: readonly RegExp[] }> = [
    { name: 'nothing', inputs: {}, want: [] },
    { name: 'a halted replica names clear-halt', inputs: { replica: halted }, want: [/replica s HALTED \(fork\).*clear-halt --source s/] },
    { name: 'a failing feed', inputs: { feeds: [feed('a', { consecutiveFailures: 2, lastRun: { outcome: 'Failed', message: 'HTTP 500' } }), feed('b')] }, want: [/feed a failed 2 time\(s\) in a row: HTTP 500/] },
    { name: 'an unreachable peer (unknown is not unreachable)', inputs: { peers: [peer('x', false), peer('y', true), peer('z')] }, want: [/peer x \(x\) is unreachable/] },
    { name: 'entries left out at a limit', inputs: { policies: [policy('p', 5), policy('q', 0)] }, want: [/policy p left out 5/] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const v = statusView({ ...none, ...c.inputs });
      assert.equal(v.attention.length, c.want.length, v.attention.join('\n'));
      c.want.forEach((re, i) => assert.match(v.attention[i] ?? '', re));
    });
  }
});

describe('statusView: rows', () => {
  test('open rounds are the Proposed (or phaseless) indicators, oldest first, at most ROUNDS_SHOWN listed', () => {
    const many = Array.from({ length: ROUNDS_SHOWN + 3 }, (_, i) => ti(`n${String(i).padStart(2, '0')}`, `2026-12-06T10:${String(59 - i).padStart(2, '0')}:00Z`));
    const v = statusView({ ...none, indicators: [...many, ti('done', '2026-12-01T00:00:00Z', 'Approved')] });
    assert.equal(v.rounds.open, ROUNDS_SHOWN + 3);
    assert.equal(v.rounds.oldest.length, ROUNDS_SHOWN);
    assert.equal(v.rounds.oldest[0]?.name, `n${ROUNDS_SHOWN + 2}`);
    assert.match(renderStatusView(v), new RegExp(`${ROUNDS_SHOWN + 3} proposal\\(s\\) waiting for votes, the ${ROUNDS_SHOWN} oldest:`));
  });
  test('all namespaces: names carry their namespace', () => {
    const v = statusView({ ...none, namespace: undefined, feeds: [feed('b'), feed('a')] });
    assert.deepEqual(v.feeds.map((f) => f.name), ['tm/a', 'tm/b']);
    assert.match(renderStatusView(v), /all namespaces/);
  });
  test('a feed that never ran, and one running now', () => {
    const v = statusView({ ...none, feeds: [feed('new'), feed('busy', { activeRun: { runId: 'r' }, lastRun: { outcome: 'Succeeded' } })] });
    assert.match(renderStatusView(v), /^busy\s+Succeeded \(running\)/m);
    assert.match(renderStatusView(v), /^new\s+never run/m);
  });
  test('table pads every column but the last and trims the line ends', () => {
    assert.equal(table([['A', 'BB', 'C'], ['aaa', '', '']]), 'A    BB  C\naaa\n');
  });
});
