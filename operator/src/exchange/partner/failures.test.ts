import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { ApiError } from '../../runtime/client.ts';
import { ExchangeCallError } from '../protocol/client.ts';
import { FailureReporter, classifyFailure, type FailureCause } from './failures.ts';
import { PartnerMetrics } from './metrics.ts';

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name }, extra);
}

test('each failure gets its cause, its condition reason and a message that says what to do', () => {
  const cases: Array<[string, unknown, FailureCause, string]> = [
    ['disk full (FerretDB on SQLite)', named('MongoServerError', 'database or disk is full (13)'), 'database-full', 'DatabaseFull'],
    ['disk full (MongoDB)', named('MongoServerError', 'x', { code: 14031 }), 'database-full', 'DatabaseFull'],
    ['database down', named('MongoNetworkError', 'connect ECONNREFUSED 127.0.0.1:27017'), 'database-unavailable', 'DatabaseUnavailable'],
    ['no server selected', named('MongoServerSelectionError', 'Server selection timed out'), 'database-unavailable', 'DatabaseUnavailable'],
    ['apiserver 503', new ApiError(503, 'ServiceUnavailable', 'unavailable'), 'cluster-api', 'ClusterApiError'],
    ['apiserver 429', new ApiError(429, 'TooManyRequests', 'slow down'), 'cluster-api', 'ClusterApiError'],
    ['apiserver 422 is not an outage', new ApiError(422, 'Invalid', 'bad'), 'other', 'SyncFailed'],
    ['apiserver gone', new Error('connect ECONNREFUSED 127.0.0.1:6443'), 'cluster-api', 'ClusterApiError'],
    ['expired certificate', new ExchangeCallError(grpc.status.UNAVAILABLE, 'No connection established. Last error: Error: certificate has expired', undefined), 'certificate-expired', 'CertificateExpired'],
    ['untrusted certificate', new ExchangeCallError(grpc.status.UNAVAILABLE, 'unable to verify the first certificate', undefined), 'certificate-invalid', 'CertificateInvalid'],
    ['message over the limit', new ExchangeCallError(grpc.status.RESOURCE_EXHAUSTED, 'Received message larger than max (9000 vs. 5120)', undefined), 'message-too-large', 'MessageTooLarge'],
    ['sequencer down', new ExchangeCallError(grpc.status.UNAVAILABLE, 'connect ECONNREFUSED', undefined), 'sequencer-unavailable', 'Unreachable'],
    ['anything else', new Error('boom'), 'other', 'SyncFailed'],
  ];
  for (const [name, err, cause, reason] of cases) {
    const f = classifyFailure(err);
    assert.deepEqual([f.cause, f.reason], [cause, reason], name);
    assert.ok(f.message.length > 20 && f.message.includes('('), `${name}: ${f.message}`);
  }
});

test('a call to a peer that fails is the peer\'s failure, named, never the sequencer\'s', () => {
  const peer = { peer: 'partner-b' };
  const cases: Array<[string, unknown, FailureCause, string, RegExp]> = [
    ['peer refuses connections', new ExchangeCallError(grpc.status.UNAVAILABLE, 'connect ECONNREFUSED 127.0.0.1:8444', undefined), 'peer-unavailable', 'PeerUnavailable', /^peer partner-b does not answer at the endpoint of its PartnerNode: check spec\.endpoint/],
    ['peer silent past the deadline', new ExchangeCallError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', undefined), 'peer-unavailable', 'PeerUnavailable', /peer partner-b does not answer/],
    ['peer call cancelled', new ExchangeCallError(grpc.status.CANCELLED, 'Cancelled on client', undefined), 'peer-unavailable', 'PeerUnavailable', /peer partner-b/],
    ['peer with an untrusted certificate', new ExchangeCallError(grpc.status.UNAVAILABLE, 'unable to verify the first certificate', undefined), 'certificate-invalid', 'CertificateInvalid', /TLS handshake with peer partner-b failed/],
    ['peer with an expired certificate', new ExchangeCallError(grpc.status.UNAVAILABLE, 'certificate has expired', undefined), 'certificate-expired', 'CertificateExpired', /peer partner-b's/],
    ['peer refusing with a reason', new ExchangeCallError(grpc.status.PERMISSION_DENIED, 'not a partner', 'unknown-partner'), 'other', 'SyncFailed', /^retrying with backoff/],
  ];
  for (const [name, err, cause, reason, message] of cases) {
    const f = classifyFailure(err, peer);
    assert.deepEqual([f.cause, f.reason], [cause, reason], name);
    assert.match(f.message, message, name);
    assert.doesNotMatch(f.message, /sequencer does not answer|handshake with the sequencer/, name);
  }
  assert.equal(classifyFailure(new ExchangeCallError(grpc.status.UNAVAILABLE, 'connect ECONNREFUSED', undefined)).cause, 'sequencer-unavailable', 'without a callee the call was to the sequencer');
});

test('a peer\'s failure is counted by its cause and never shows on the Replicating condition', async () => {
  const registry = new Registry();
  const r = new FailureReporter(new PartnerMetrics(registry));
  const f = r.failed('gossip', new ExchangeCallError(grpc.status.UNAVAILABLE, 'connect ECONNREFUSED', undefined), { peer: 'partner-c' });
  assert.equal(f.cause, 'peer-unavailable');
  assert.equal(r.current(), undefined);
  assert.ok((await registry.metrics()).includes('threatmesh_exchange_failures_total{loop="gossip",cause="peer-unavailable"} 1'));
});

async function gauge(registry: Registry): Promise<Record<string, number>> {
  const lines = (await registry.metrics()).split('\n').filter((l) => l.startsWith('threatmesh_exchange_replication_failing{'));
  const pairs: Array<[string, number]> = lines.map((l) => [/cause="([^"]+)"/.exec(l)![1]!, Number(l.slice(l.lastIndexOf(' ') + 1))]);
  return Object.fromEntries(pairs.filter(([, v]) => v !== 0));
}

test('replication and the working set are tracked apart: the gauge shows both causes, the condition replication\'s first, one Event per cause', async () => {
  const registry = new Registry();
  const r = new FailureReporter(new PartnerMetrics(registry));
  r.failed('working set', new ApiError(503, 'ServiceUnavailable', 'x'));
  assert.equal(r.current()?.loop, 'working set');
  assert.equal(r.eventDue()?.reason, 'ClusterApiError');
  assert.equal(r.eventDue(), undefined, 'one Event per cause');
  r.failed('replication', named('MongoNetworkError', 'ECONNREFUSED'));
  assert.deepEqual([r.current()?.loop, r.current()?.reason], ['replication', 'DatabaseUnavailable']);
  assert.deepEqual(await gauge(registry), { 'cluster-api': 1, 'database-unavailable': 1 });
  r.failed('voting', new Error('boom'));
  assert.equal(r.current()?.cause, 'database-unavailable', 'untracked loops only count');
  r.recovered('replication');
  assert.deepEqual([r.current()?.loop, await gauge(registry)], ['working set', { 'cluster-api': 1 }]);
  r.recovered('working set');
  assert.deepEqual([r.current(), await gauge(registry)], [undefined, {}]);
  const counted = (await registry.metrics()).split('\n').filter((l) => l.startsWith('threatmesh_exchange_failures_total{')).length;
  assert.equal(counted, 3, 'every failure is counted by loop and cause');
});
