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
