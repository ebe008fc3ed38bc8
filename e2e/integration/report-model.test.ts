/**
 * The model client's error paths against a small HTTP stub on loopback (the only place a stub
 * stands in for the model: the real model is in report-llm.test.ts): 429 with Retry-After,
 * timeouts, 5xx, malformed bodies, an authentication failure, and a server that refuses
 * response_format json_schema (the client switches to json_object with the schema, as
 * llama-cpp-python's server wants). Metrics count every try.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { ReportMetrics } from '../../operator/src/report/metrics.ts';
import { ModelError, OpenAiChatModel } from '../../operator/src/report/model.ts';
import type { ModelRequest } from '../../operator/src/report/prompt.ts';

type Reply = { status: number; body: string; headers?: Record<string, string>; delayMs?: number };

let server: Server;
let baseUrl: string;
let script: Reply[] = [];
let seen: Array<Record<string, unknown>> = [];

const completion = (content: string): string => JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'stub', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
const ok = (content = '{"headline":"h"}'): Reply => ({ status: 200, body: completion(content), headers: { 'content-type': 'application/json' } });
const err = (status: number, message: string, headers: Record<string, string> = {}): Reply => ({ status, body: JSON.stringify({ error: { message, type: 'invalid_request_error' } }), headers: { 'content-type': 'application/json', ...headers } });

function handle(req: IncomingMessage, res: ServerResponse): void {
  let raw = '';
  req.on('data', (c: Buffer) => { raw += c.toString(); });
  req.on('end', () => {
    seen.push(JSON.parse(raw || '{}') as Record<string, unknown>);
    const r = script.shift() ?? err(500, 'script exhausted');
    const timer = setTimeout(() => { if (!res.destroyed) { res.writeHead(r.status, r.headers ?? {}); res.end(r.body); } }, r.delayMs ?? 0);
    res.on('close', () => clearTimeout(timer));
  });
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const req: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], schema: { type: 'object' }, maxTokens: 16, temperature: 0 };

function client(over: { timeoutMs?: number; responseFormat?: 'auto' | 'json_schema' | 'json_object' } = {}) {
  const metrics = new ReportMetrics(new Registry());
  const waits: number[] = [];
  const model = new OpenAiChatModel({ baseUrl, model: 'stub', allowedTlp: 'green', timeoutMs: over.timeoutMs ?? 5000, responseFormat: over.responseFormat ?? 'json_schema', retry: { attempts: 3, baseMs: 10, capMs: 50 } }, { metrics, sleep: (ms) => { waits.push(ms); return Promise.resolve(); } });
  return { model, metrics, waits };
}

async function outcomes(metrics: ReportMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.requests.get()).values) out[String(v.labels.outcome)] = v.value;
  return out;
}

test('error paths: what is retried, how often, and what the caller is told', async () => {
  const cases: Array<{ name: string; script: Reply[]; timeoutMs?: number; want: { requests: number; kind?: string; message?: RegExp; outcomes: Record<string, number>; waits?: number[] } }> = [
    { name: '429 with retry-after-ms, then an answer', script: [err(429, 'slow down', { 'retry-after-ms': '20' }), ok()], want: { requests: 2, outcomes: { 'rate-limited': 1, ok: 1 }, waits: [20] } },
    { name: 'always 429: gives up after 3 tries', script: [err(429, 'a'), err(429, 'b'), err(429, 'c')], want: { requests: 3, kind: 'rate-limited', message: /answered 429.*\(try 3 of 3\)/, outcomes: { 'rate-limited': 3 } } },
    { name: 'a timeout, then an answer', script: [{ ...ok(), delayMs: 3000 }, ok()], timeoutMs: 300, want: { requests: 2, outcomes: { timeout: 1, ok: 1 } } },
    { name: '500, 502, then an answer', script: [err(500, 'boom'), err(502, 'bad gateway'), ok()], want: { requests: 3, outcomes: { server: 2, ok: 1 } } },
    { name: 'a body that is not JSON: no retry', script: [{ status: 200, body: '<html>proxy error</html>', headers: { 'content-type': 'application/json' } }], want: { requests: 1, kind: 'malformed', message: /not a chat completion/, outcomes: { malformed: 1 } } },
    { name: 'a completion without choices: no retry', script: [{ status: 200, body: '{"object":"chat.completion"}', headers: { 'content-type': 'application/json' } }], want: { requests: 1, kind: 'malformed', outcomes: { malformed: 1 } } },
    { name: '401: no retry', script: [err(401, 'bad key')], want: { requests: 1, kind: 'client', message: /answered 401/, outcomes: { client: 1 } } },
  ];
  for (const c of cases) {
    script = [...c.script];
    seen = [];
    const { model, metrics, waits } = client({ ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}) });
    const r = await model.complete(req).then((x) => x, (e: unknown) => e);
    assert.equal(seen.length, c.want.requests, `${c.name}: requests`);
    if (c.want.kind) {
      assert.ok(r instanceof ModelError, `${c.name}: ${String(r)}`);
      assert.equal(r.kind, c.want.kind, c.name);
      if (c.want.message) assert.match(r.message, c.want.message, c.name);
    } else {
      assert.ok(!(r instanceof Error), `${c.name}: ${String(r)}`);
      assert.equal((r as { tries: number }).tries, c.want.requests, c.name);
    }
    assert.deepEqual(await outcomes(metrics), c.want.outcomes, `${c.name}: metrics`);
    if (c.want.waits) assert.deepEqual(waits, c.want.waits, `${c.name}: backoff`);
  }
});

test('auto format: a 4xx to json_schema switches to json_object with the schema, once and for good', async () => {
  script = [err(422, 'response_format type json_schema is not supported'), ok(), ok()];
  seen = [];
  const { model, metrics } = client({ responseFormat: 'auto' });
  const first = await model.complete(req);
  assert.equal(first.format, 'json_object');
  await model.complete(req);
  assert.deepEqual(seen.map((b) => (b['response_format'] as { type: string }).type), ['json_schema', 'json_object', 'json_object']);
  assert.deepEqual(seen[0]?.['response_format'], { type: 'json_schema', json_schema: { name: 'executive_summary', strict: true, schema: { type: 'object' } } });
  assert.deepEqual(seen[1]?.['response_format'], { type: 'json_object', schema: { type: 'object' } });
  assert.equal(seen[1]?.['max_tokens'], 16);
  const tokens: Record<string, number> = Object.fromEntries((await metrics.tokens.get()).values.map((v) => [String(v.labels.kind), v.value] as const));
  assert.deepEqual(tokens, { prompt: 22, completion: 14 });
});

test('auto format: a 500 whose message names response_format (llama-cpp-python\'s validation error) also switches; a plain 500 does not', async () => {
  script = [err(500, "1 validation error: ('body', 'response_format', 'type') Input should be 'text' or 'json_object'"), ok()];
  seen = [];
  const { model } = client({ responseFormat: 'auto' });
  assert.equal((await model.complete(req)).format, 'json_object');
  assert.equal(seen.length, 2);
  script = [err(500, 'out of memory'), ok()];
  seen = [];
  const other = client({ responseFormat: 'auto' });
  assert.equal((await other.model.complete(req)).format, 'json_schema');
  assert.deepEqual(seen.map((b) => (b['response_format'] as { type: string }).type), ['json_schema', 'json_schema']);
});

test('a fixed json_schema format does not switch: the 4xx is the caller\'s answer', async () => {
  script = [err(400, 'unsupported')];
  seen = [];
  const { model } = client({ responseFormat: 'json_schema' });
  await assert.rejects(model.complete(req), (e: unknown) => e instanceof ModelError && e.status === 400);
  assert.equal(seen.length, 1);
});

test('an unreachable endpoint is a connection failure, retried, then reported', async () => {
  const metrics = new ReportMetrics(new Registry());
  const model = new OpenAiChatModel({ baseUrl: 'http://127.0.0.1:9/v1', model: 'x', allowedTlp: 'clear', retry: { attempts: 2, baseMs: 1, capMs: 1 } }, { metrics, sleep: () => Promise.resolve() });
  await assert.rejects(model.complete(req), (e: unknown) => e instanceof ModelError && e.kind === 'connection' && /cannot reach the model endpoint/.test(e.message));
  assert.deepEqual(await outcomes(metrics), { connection: 2 });
});
