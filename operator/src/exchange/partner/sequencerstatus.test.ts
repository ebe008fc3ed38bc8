import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import type { PartnerNode } from '../../api/types.ts';
import type { ReplicaCursor } from '../../domain/stores.ts';
import { SigningKey } from '../../domain/signature.ts';
import { createLogger } from '../../log.ts';
import { FailureReporter } from './failures.ts';
import { PartnerMetrics } from './metrics.ts';
import type { SequencerRef } from './network.ts';
import { ReplicationHalted } from './replica.ts';
import { SequencerStatusReporter } from './sequencerstatus.ts';
import type { PartnerSession } from './session.ts';
import type { ReplicatingCondition } from './status.ts';

const node: PartnerNode = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: 'sequencer', namespace: 'ns' }, spec: { partnerId: 'sequencer', organization: 'o', endpoint: '127.0.0.1:1', publicKey: '', roles: ['sequencer'] } };
const seq = { partnerId: 'sequencer', endpoint: '127.0.0.1:1', key: SigningKey.generate().publicKey, retiredKeys: [], node } as unknown as SequencerRef;
const forked = { reason: 'fork', message: 'the peer\'s head differs', index: undefined, at: '2026-12-07T00:00:00.000Z' } as const;

/** The Replicating condition one report writes for a session that knows `sessionHalt` over a cursor that holds `cursor` (sequencer unreachable). */
async function reported(sessionHalt: ReplicationHalted | undefined, cursor: ReplicaCursor): Promise<ReplicatingCondition | undefined> {
  const written: ReplicatingCondition[] = [];
  const reporter = new SequencerStatusReporter({
    status: { write: (_n, _f, c) => { if (c !== undefined) written.push(...(Array.isArray(c) ? (c as readonly ReplicatingCondition[]) : [c as ReplicatingCondition])); return Promise.resolve(true); } },
    events: { event: () => Promise.resolve() },
    metrics: new PartnerMetrics(new Registry()), failures: new FailureReporter(new PartnerMetrics(new Registry())), log: createLogger(new PassThrough()),
    now: () => new Date('2026-12-07T00:00:00Z'), maxHeadAgeMs: 60_000, haltCondition: () => undefined, onMisbehaviour: () => Promise.resolve(), step: () => undefined,
  });
  const session = { halted: sessionHalt, replica: { cursor: () => Promise.resolve(cursor) }, client: { treeHead: () => Promise.reject(new Error('unreachable')) } } as unknown as PartnerSession;
  await reporter.report(session, seq);
  return written.find((c) => c.type === undefined);
}

describe('SequencerStatusReporter: the Replicating condition of a halted replica', () => {
  const table: ReadonlyArray<{ name: string; session: ReplicationHalted | undefined; cursor: ReplicaCursor; want: [string, string] }> = [
    { name: 'the session halted', session: new ReplicationHalted(forked), cursor: { nextIndex: 1, halted: forked }, want: ['False', 'Fork'] },
    // A restarted process reports before its replication loop has read the halt back (the race issue 18 saw).
    { name: 'the halt persisted, the new session not yet told', session: undefined, cursor: { nextIndex: 1, halted: forked }, want: ['False', 'Fork'] },
    { name: 'not halted (sequencer unreachable)', session: undefined, cursor: { nextIndex: 1 }, want: ['False', 'Unreachable'] },
  ];
  for (const row of table) {
    test(row.name, async () => {
      const c = await reported(row.session, row.cursor);
      assert.deepEqual([c?.status, c?.reason], row.want, c?.message);
      if (row.want[1] === 'Fork') assert.match(c?.message ?? '', /replication halted \(fork\): the peer's head differs/);
    });
  }
});
