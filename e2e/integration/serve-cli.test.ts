/**
 * `threatmesh serve` as a user runs it: bad flags and a bad config file fail before anything
 * connects, naming the flag or the field; with good ones it serves TAXII over HTTPS from a real
 * FerretDB (token from a file, as a mounted Secret), answers /healthz and /metrics on the
 * metrics port, mounts the reports API (`/trends`, `/reports`) behind the same consumers, writes
 * the export directory, and stops with exit 0 on SIGTERM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { provisionSampleConsumer, taxiiAccess } from '../../operator/src/serve/sample.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { runCli } from '../harness/cli.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
let cp: ControlPlane;
let ca: TestCa;
let dir: string;
const database = `tm_serve_cli_${uniqueSuffix()}`;

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  ca = await createTestCa('serve-cli-ca');
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-serve-cli-'));
  const server = await ca.issue('serve-cli', 'server');
  await writeFile(join(dir, 'tls.crt'), server.certPem);
  await writeFile(join(dir, 'tls.key'), server.keyPem);
  await writeFile(join(dir, 'ca.pem'), ca.caPem);
});

after(async () => {
  const client = new MongoClient(cp.mongoUri);
  await client.db(database).dropDatabase().catch(() => undefined);
  await client.close();
  await cp?.stop();
  await ca?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('bad flags and bad config files fail before connecting, naming the flag or field', async () => {
  await writeFile(join(dir, 'bad.yaml'), 'consumers:\n  - name: siem\n    maxTlp: purple\n    tokens: [{file: /nonexistent}]\n');
  const base = ['serve', '--partner-id', 'partner-a', '--mongodb-uri', 'mongodb://127.0.0.1:1/', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')];
  // Exit 2: the command line is wrong; exit 1: a file it names is unreadable or refused (docs/cli.md).
  const cases: Array<[string[], RegExp, number]> = [
    [['serve', '--mongodb-uri', 'mongodb://127.0.0.1:1/'], /--partner-id is required/, 2],
    [[...base], /--config is required/, 2],
    [[...base, '--config', join(dir, 'bad.yaml')], /consumers\[0\]\.maxTlp: must be one of clear, green, amber, amber\+strict, red/, 1],
    [[...base, '--config', join(dir, 'missing.yaml')], /cannot read --config/, 1],
    [[...base, '--config', join(dir, 'bad.yaml'), '--listen', 'nowhere'], /--listen "nowhere" must be host:port/, 2],
  ];
  for (const [args, message, code] of cases) {
    const run = await runCli(args, { timeout: 60_000 });
    assert.equal(run.code, code, args.join(' '));
    assert.match(run.stderr, message, args.join(' '));
  }
  assert.match((await runCli(['serve', '--help'])).stdout, /TAXII 2\.1/);
});

function get(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, ca: ca.caPem, headers: { accept: 'application/taxii+json;version=2.1', authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

test('serves TAXII with the sandbox\'s sample GREEN consumer, health and metrics, an export directory; SIGTERM exits 0', async () => {
  const sample = await provisionSampleConsumer(join(dir, 'sample'));
  assert.ok(!(await readFile(sample.configPath, 'utf8')).includes(sample.token), 'the config holds only the token hash');
  const exportDir = join(dir, 'exports');
  const child = spawn(process.execPath, [MAIN, 'serve', '--partner-id', 'partner-a', '--config', sample.configPath, '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'),
    '--mongodb-uri', cp.mongoUri, '--database', database, '--listen', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', '--export-dir', exportDir, '--export-interval', '1s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const started = new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      const line = stderr.split('\n').find((l) => l.includes('serving TAXII'));
      if (line !== undefined) resolve(JSON.parse(line) as { port: number; metricsPort: number });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${String(code)}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const { port, metricsPort } = await started;
    const access = taxiiAccess('127.0.0.1', port, sample, join(dir, 'ca.pem'));
    assert.equal(access.url, `https://127.0.0.1:${port}/taxii2/`);
    const discovery = await get(port, '/taxii2/', access.token);
    assert.equal(discovery.status, 200, discovery.body);
    assert.deepEqual((JSON.parse(discovery.body) as { api_roots: string[] }).api_roots, ['/api/']);
    assert.equal((await get(port, '/api/collections/tlp-amber/', access.token)).status, 404, 'the sample consumer is limited to TLP:GREEN');
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200);
    assert.match(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), /threatmesh_serve_requests_total\{api="taxii",status="200"\} [1-9]/);
    // The reports API is mounted on the same port, behind the same consumers, cut to their TLP and audited.
    const trends = await get(port, '/trends?since=7d&maxTlp=red', access.token);
    assert.equal(trends.status, 200, trends.body);
    assert.equal((JSON.parse(trends.body) as { maxTlp: string }).maxTlp, 'green', 'asking for more than the consumer may read is lowered to its TLP');
    assert.deepEqual(JSON.parse((await get(port, '/reports', access.token)).body), { reports: [] });
    assert.equal((await get(port, '/reports/no-such-report.md', access.token)).status, 404);
    assert.equal((await get(port, '/trends', 'not-the-token')).status, 401, 'a wrong token gets no trends');
    const audit = new MongoClient(cp.mongoUri);
    try {
      const events = await audit.db(database).collection('serve_audit').find({ api: 'report' }).toArray();
      assert.deepEqual(events.map((e): unknown[] => [e['identity'], e['resource'], e['status']]).sort(), [['sample-green', '/reports', 200], ['sample-green', '/reports/no-such-report.md', 404], ['sample-green', '/trends', 200]]);
    } finally {
      await audit.close();
    }
    for (let i = 0; i < 50 && (await readFile(join(exportDir, 'csv/indicators.csv'), 'utf8').catch(() => '')) === ''; i += 1) await new Promise((r) => setTimeout(r, 200));
    assert.match(await readFile(join(exportDir, 'csv/indicators.csv'), 'utf8'), /^action,type,value/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
