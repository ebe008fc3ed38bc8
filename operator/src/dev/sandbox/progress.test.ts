import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Feed, PartnerNode, ThreatIndicator } from '../../api/types.ts';
import type { Condition } from '../../runtime/types.ts';
import { feedRow, indicatorRow, partnerRow, reconcileGap, renderTable, summarize } from './progress.ts';

const ready = (status: 'True' | 'False', reason: string): Condition[] => [{ type: 'Ready', status, reason, message: '', lastTransitionTime: '2026-11-25T00:00:00Z' }];
const meta = (name: string, generation = 1) => ({ name, namespace: 'threatmesh', generation });

function feed(status: Feed['status'], generation = 1): Feed {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: meta('f', generation), spec: { url: 'http://127.0.0.1:1/x', format: 'lines', schedule: { interval: '1h' } }, ...(status ? { status } : {}) };
}

function ti(status: ThreatIndicator['status']): ThreatIndicator {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: meta('ipv4-x'), spec: { type: 'ipv4', value: '192.0.2.1' }, ...(status ? { status } : {}) };
}

describe('reconcileGap', () => {
  const cases: Array<[string, Feed, string | undefined]> = [
    ['no status', feed(undefined), 'not reconciled yet'],
    ['old generation', feed({ observedGeneration: 1, conditions: ready('True', 'Scheduled') }, 2), 'observedGeneration 1 < generation 2'],
    ['no Ready condition', feed({ observedGeneration: 1 }), 'no Ready condition yet'],
    ['reconciled', feed({ observedGeneration: 1, conditions: ready('False', 'InvalidSpec') }), undefined],
  ];
  for (const [name, obj, want] of cases) test(name, () => assert.equal(reconcileGap(obj), want));
});

describe('rows', () => {
  test('a Feed waits for its first completed run', () => {
    const running = feedRow(feed({ observedGeneration: 1, conditions: ready('True', 'RunStarted'), activeRun: { runId: 'r1', outcome: 'Running' } }));
    assert.deepEqual([running.state, running.ready, running.waitingFor], ['running', 'True RunStarted', 'its first run']);
    const done = feedRow(feed({ observedGeneration: 1, conditions: ready('True', 'Scheduled'), lastRun: { outcome: 'Succeeded', summary: '5/3', completionTime: '2026-11-25T00:00:00Z' } }));
    assert.deepEqual([done.state, done.waitingFor], ['idle (last: Succeeded 5/3)', undefined]);
  });

  test('an indicator the local voters still decide is waiting even when reconciled', () => {
    const status: ThreatIndicator['status'] = { phase: 'Proposed', observedGeneration: 1, conditions: ready('False', 'QuorumPending'), quorum: { approvals: 0, rejections: 0, summary: '0/3' } };
    assert.equal(indicatorRow(ti(status), true).waitingFor, 'the local voters');
    const row = indicatorRow(ti(status), false);
    assert.deepEqual([row.state, row.votes, row.quorum, row.ready, row.waitingFor], ['Proposed', '0+/0-', '0/3', 'False QuorumPending', undefined]);
  });

  test('a PartnerNode shows its roles', () => {
    const pn: PartnerNode = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: meta('p'), spec: { partnerId: 'p', organization: 'P', endpoint: 'p.example:1', publicKey: 'x', roles: ['voter', 'consumer'] }, status: { observedGeneration: 1, conditions: ready('True', 'VoterRegistered') } };
    assert.deepEqual(partnerRow(pn), { kind: 'pn', namespace: 'threatmesh', name: 'p', state: 'voter,consumer', votes: '-', quorum: '-', ready: 'True VoterRegistered', waitingFor: undefined });
  });
});

describe('renderTable and summarize', () => {
  const row = (kind: 'ti' | 'pn', name: string, state: string, waitingFor?: string) => ({ kind, namespace: 'ns', name, state, votes: '-', quorum: '-', ready: '-', waitingFor });

  test('aligns columns and summarizes indicators beyond the limit by phase', () => {
    const rows = [row('pn', 'a', 'voter'), row('ti', 't1', 'Approved'), row('ti', 't2', 'Approved'), row('ti', 't3', 'Proposed', 'the local voters')];
    assert.equal(renderTable(rows, 1), [
      'NAME   STATE     VOTES  QUORUM  READY  WAITING FOR',
      'pn/a   voter     -      -       -      -',
      'ti/t1  Approved  -      -       -      -',
      '… 2 more indicators: 1 Approved, 1 Proposed',
      '',
    ].join('\n'));
    assert.deepEqual(summarize(rows), { total: 4, reconciled: 3, byKind: { pn: 1, ti: 3 } });
  });
});
