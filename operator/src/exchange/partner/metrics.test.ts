import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { PartnerMetrics } from './metrics.ts';

test('the gossip endpoint\'s identity counts are a metric: read and reused from the endpoint serving now, 0 without one', async () => {
  const registry = new Registry();
  const m = new PartnerMetrics(registry);
  const series = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter((l) => l.startsWith('threatmesh_exchange_gossip_peer_identities_total{'));
  assert.deepEqual(await series(), ['threatmesh_exchange_gossip_peer_identities_total{result="read"} 0', 'threatmesh_exchange_gossip_peer_identities_total{result="reused"} 0']);
  let stats = { read: 2, reused: 40 };
  m.gossipEndpoint(() => stats);
  assert.deepEqual(await series(), ['threatmesh_exchange_gossip_peer_identities_total{result="read"} 2', 'threatmesh_exchange_gossip_peer_identities_total{result="reused"} 40']);
  stats = { read: 3, reused: 41 };
  assert.deepEqual(await series(), ['threatmesh_exchange_gossip_peer_identities_total{result="read"} 3', 'threatmesh_exchange_gossip_peer_identities_total{result="reused"} 41'], 'read at each scrape');
  m.gossipEndpoint(undefined);
  assert.match((await series())[0]!, / 0$/, 'a stopped endpoint counts nothing');
  assert.match(await registry.metrics(), /# TYPE threatmesh_exchange_gossip_peer_identities_total counter/);
});

test('the live tail\'s counts are metrics: read from the session replicating now at each scrape, 0 without one or without a tail', async () => {
  const registry = new Registry();
  const m = new PartnerMetrics(registry);
  const tail = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter((l) => l.startsWith('threatmesh_exchange_tail_'));
  const idle = ['threatmesh_exchange_tail_following 0', 'threatmesh_exchange_tail_streams_opened_total 0', 'threatmesh_exchange_tail_received_total{kind="head"} 0', 'threatmesh_exchange_tail_received_total{kind="proof"} 0', 'threatmesh_exchange_tail_received_total{kind="entry"} 0', 'threatmesh_exchange_tail_fallback_calls_total 0'];
  assert.deepEqual(await tail(), idle);
  let stats = { opened: 2, heads: 30, proofs: 29, entries: 4_000, calls: 3, following: true };
  m.liveTail(() => stats);
  assert.deepEqual(await tail(), ['threatmesh_exchange_tail_following 1', 'threatmesh_exchange_tail_streams_opened_total 2', 'threatmesh_exchange_tail_received_total{kind="head"} 30', 'threatmesh_exchange_tail_received_total{kind="proof"} 29', 'threatmesh_exchange_tail_received_total{kind="entry"} 4000', 'threatmesh_exchange_tail_fallback_calls_total 3']);
  stats = { ...stats, calls: 4, following: false };
  assert.deepEqual((await tail()).filter((l) => /following|fallback/.test(l)), ['threatmesh_exchange_tail_following 0', 'threatmesh_exchange_tail_fallback_calls_total 4'], 'read at each scrape');
  m.liveTail(() => undefined);
  assert.deepEqual(await tail(), idle, 'a session whose client offers no tail');
  m.liveTail(undefined);
  assert.deepEqual(await tail(), idle, 'no session');
  assert.match(await registry.metrics(), /# TYPE threatmesh_exchange_tail_fallback_calls_total counter/);
});
