import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { freePorts } from './probe.ts';

const listen = (port: number): Promise<Server> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(port, '127.0.0.1', () => resolve(s));
});

test('freePorts hands out distinct ports below the ephemeral range that a server can bind', async () => {
  const ports = await freePorts(40, { ephemeral: [32768, 60999] });
  assert.equal(new Set(ports).size, 40);
  for (const p of ports) assert.ok(p >= 20768 && p < 32768, `${p} is below the ephemeral range`);
  const servers = await Promise.all(ports.map(listen));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

test('freePorts skips a port in use and a port it already chose', async () => {
  const busy = await listen(0);
  const taken = (busy.address() as { port: number }).port;
  // The range starts at the busy port (12,000 below the ephemeral range); the draws land on it,
  // then twice on the next port, then further on.
  const offsets = [0, 1, 1, 2, 3, 4, 5, 6];
  let i = 0;
  const random = (): number => (offsets[i++] ?? Math.floor(Math.random() * 100)) / 12_000 + 1e-9;
  try {
    const ports = await freePorts(2, { ephemeral: [taken + 12_000, 65000], random });
    assert.ok(!ports.includes(taken), 'the busy port is skipped');
    assert.equal(new Set(ports).size, 2, 'the repeated draw is skipped');
    assert.ok(i >= 4, `at least four draws for two ports (${i})`);
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test('freePorts gives up with what to do when no port is free', async () => {
  const busy = await listen(0);
  const taken = (busy.address() as { port: number }).port;
  try {
    // Every draw lands on the busy port.
    await assert.rejects(freePorts(1, { ephemeral: [taken + 12_000, 65000], random: () => 0 }), /no 1 free ports .* widen net\.ipv4\.ip_local_port_range/);
  } finally {
    await new Promise((r) => busy.close(r));
  }
});
