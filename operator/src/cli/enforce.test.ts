import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnforceFlags, type EnforceFlags } from './enforce.ts';
import type { CliEnv } from './env.ts';

const env = { mongodbUri: undefined } as unknown as CliEnv;
const ok: EnforceFlags = { database: 'threatmesh_partner', metricsBind: '127.0.0.1:8081', leaderElect: false, pollInterval: '1s', fullReloadInterval: '10m', deltaLimit: '5000', mongodbUri: 'mongodb://127.0.0.1:1/' };

const cases: Array<[string, Partial<EnforceFlags>, RegExp | undefined]> = [
  ['defaults', {}, undefined],
  ['no database', { mongodbUri: undefined }, /--mongodb-uri \(or MONGODB_URI\) is required/],
  ['bad poll interval', { pollInterval: '500ms' }, /not a duration/],
  ['reload shorter than poll', { pollInterval: '1m', fullReloadInterval: '30s' }, /--full-reload-interval must be at least --poll-interval/],
  ['bad delta limit', { deltaLimit: 'many' }, /--delta-limit must be a whole number/],
  ['bad metrics bind', { metricsBind: 'localhost' }, /--metrics-bind "localhost" must be host:port/],
];
for (const [name, change, want] of cases) {
  test(`threatmesh enforce flags: ${name}`, () => {
    const flags = { ...ok, ...change };
    if (want) assert.throws(() => checkEnforceFlags(flags, env), want);
    else assert.deepEqual(checkEnforceFlags(flags, env), { pollMs: 1000, reloadMs: 600_000, deltaLimit: 5000, mongodbUri: 'mongodb://127.0.0.1:1/' });
  });
}
