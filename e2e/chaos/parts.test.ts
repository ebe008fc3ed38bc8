/**
 * The chaos run tells a process that stopped on purpose (a sequencer replica that lost its
 * Lease) from a crash by the reason it logged, wherever that line is in its run's log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stopReason } from './parts.ts';

const stopping = (why: string): string => JSON.stringify({ ts: '2026-12-07T06:22:33.132Z', level: 'info', msg: 'stopping', component: 'threatmesh', why });
const appendFailed = JSON.stringify({ ts: '2026-12-07T06:22:33.770Z', level: 'error', msg: 'append failed; round kept open', component: 'sequencer' });

describe('stopReason', () => {
  const cases: Array<{ name: string; log: string; want: string | undefined }> = [
    { name: 'the reason, followed by 500 error lines of work cut short (the chaos run of 2026-12-07)', log: [stopping('lost the Lease: another replica serves now'), ...Array<string>(500).fill(appendFailed), 'threatmesh: lost the Lease: another replica serves now'].join('\n'), want: 'lost the Lease: another replica serves now' },
    { name: 'the last reason wins', log: [stopping('SIGTERM'), stopping('lost leadership')].join('\n'), want: 'lost leadership' },
    { name: 'no stopping line: a crash', log: [appendFailed, 'TypeError: x is undefined', '    at f (file.ts:1:1)'].join('\n'), want: undefined },
    { name: 'a stopping line cut by kill -9', log: '{"ts":"2026-12-07T06:22:33.132Z","level":"info","msg":"stopping","why":"lost the Le', want: undefined },
    { name: 'a stopping line without a reason', log: JSON.stringify({ msg: 'stopping' }), want: undefined },
    { name: 'a reason that is not text', log: JSON.stringify({ msg: 'stopping', why: 3 }), want: undefined },
    { name: 'an empty log', log: '', want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(stopReason(c.log), c.want));
});
