import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScanFlags, SCAN_FLAG_DEFAULTS, type OperatorScanFlags } from './operatorscan.ts';

const cases: Array<[string, OperatorScanFlags, string | undefined, RegExp | Record<string, unknown>]> = [
  ['job executor with the defaults', { executor: 'job', jobImage: 'threatmesh:1' }, undefined, { executor: 'job', capacity: SCAN_FLAG_DEFAULTS.capacity, mongodbSecret: { name: 'threatmesh-mongodb-uri', key: 'connectionString.standard' }, jobImage: 'threatmesh:1' }],
  ['in-process with $KUBECONFIG', { executor: 'inprocess' }, '/k/config', { executor: 'inprocess', kubeconfig: '/k/config' }],
  ['--kubeconfig wins over $KUBECONFIG', { executor: 'inprocess', kubeconfig: '/flag' }, '/env', { kubeconfig: '/flag' }],
  ['another Secret and capacity', { executor: 'job', scanMongodbSecret: 'mongo/uri', scanCapacity: '8' }, undefined, { capacity: 8, mongodbSecret: { name: 'mongo', key: 'uri' } }],
  ['in-process without a kubeconfig', { executor: 'inprocess' }, undefined, /--executor inprocess .* give --kubeconfig/],
  ['a Secret without a key', { executor: 'job', scanMongodbSecret: 'mongo' }, undefined, /--scan-mongodb-secret must be NAME\/KEY/],
  ['an upper-case Secret name', { executor: 'job', scanMongodbSecret: 'Mongo/uri' }, undefined, /--scan-mongodb-secret must be NAME\/KEY/],
  ['capacity zero', { executor: 'job', scanCapacity: '0' }, undefined, /--scan-capacity must be a whole number from 1/],
  ['capacity not a number', { executor: 'job', scanCapacity: 'many' }, undefined, /--scan-capacity/],
];

for (const [name, flags, env, want] of cases) {
  test(`checkScanFlags: ${name}`, () => {
    if (want instanceof RegExp) {
      assert.throws(() => checkScanFlags(flags, env, true), want);
      return;
    }
    const got = checkScanFlags(flags, env, true) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, k);
  });
}

test('checkScanFlags: without --exchange there is no LogScan controller and no flag is checked', () => {
  assert.equal(checkScanFlags({ executor: 'inprocess', scanCapacity: 'bad' }, undefined, false), undefined);
});
