import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withLeaseClient } from './flags.ts';
import { leaseResource } from '../runtime/leader.ts';

/** An API server that accepts every request and never answers, until closed. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => { held.push(res); });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

describe('withLeaseClient', { concurrency: true }, () => {
  // The client's timeout shows in the error of a request the server never answers.
  const table = [
    { renewDeadlineMs: undefined, timeoutMs: 5000 },
    { renewDeadlineMs: 3000, timeoutMs: 1500 },
    { renewDeadlineMs: 1500, timeoutMs: 1000 },
  ];
  for (const row of table) {
    test(`a renew deadline of ${row.renewDeadlineMs ?? 'default (10000)'} ms gives Lease requests ${row.timeoutMs} ms`, async (t) => {
      const api = await silentServer();
      t.after(api.close);
      const election = withLeaseClient({ server: api.url, source: 'test' }, 'flags-test', { name: 'l', namespace: 'ns', identity: 'me', ...(row.renewDeadlineMs !== undefined ? { renewDeadlineMs: row.renewDeadlineMs } : {}) });
      t.after(() => election.client.close());
      assert.equal(election.renewDeadlineMs, row.renewDeadlineMs, 'the election settings pass through unchanged');
      const started = performance.now();
      await assert.rejects(election.client.get(leaseResource, 'l', 'ns'), new RegExp(`no answer from .* within ${row.timeoutMs} ms`));
      assert.ok(performance.now() - started >= row.timeoutMs - 50, 'the request waited its whole timeout');
    });
  }
});
