/**
 * An informer's stop() ends a list in flight at once. The API server here is a stub HTTP server
 * that accepts each request and never answers (the one error path a stub may provoke): before
 * the fix, stop() waited for the client's request timeout (a chaos run's shutdown hung minutes).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { createLogger } from '../log.ts';
import { Informer } from './informer.ts';
import { KubeHttpClient } from './kube.ts';
import type { KubeObject, ResourceRef } from './types.ts';

const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
const REQUEST_TIMEOUT_MS = 20_000;

let server: Server;
let client: KubeHttpClient;
const held: ServerResponse[] = [];
let asked: (req: IncomingMessage) => void = () => undefined;

before(async () => {
  server = createServer((req, res) => {
    held.push(res);
    asked(req);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  client = new KubeHttpClient({ server: `http://127.0.0.1:${port}`, source: 'a stub API server that never answers' }, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
});

after(async () => {
  for (const res of held) res.destroy();
  client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('informer.stop() aborts a list the API server never answers, well before the request timeout', async () => {
  const listed = new Promise<IncomingMessage>((resolve) => { asked = resolve; });
  const informer = new Informer<KubeObject>({ client, ref: PODS, log: createLogger(new PassThrough(), 'error'), namespace: 'default' });
  informer.start();
  const req = await listed;
  assert.match(req.url ?? '', /^\/api\/v1\/namespaces\/default\/pods\?/, 'the informer is listing');
  assert.doesNotMatch(req.url ?? '', /watch=true/);
  const closed = once(req.socket, 'close');
  const started = performance.now();
  await informer.stop();
  const ms = performance.now() - started;
  assert.ok(ms < 2000, `stop() returned after ${Math.round(ms)} ms; it must not wait for the ${REQUEST_TIMEOUT_MS} ms request timeout`);
  await closed;
  assert.equal(informer.hasSynced(), false);
});

test('a list given an aborted signal rejects at once instead of waiting for the answer', async () => {
  const listed = new Promise<IncomingMessage>((resolve) => { asked = resolve; });
  const abort = new AbortController();
  const pending = client.list(PODS, { namespace: 'default', signal: abort.signal });
  await listed;
  const started = performance.now();
  abort.abort();
  await assert.rejects(pending, (err: Error) => err.name === 'AbortError' || /abort/i.test(err.message));
  assert.ok(performance.now() - started < 2000);
});
