import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { normalizeRows } from './normalize.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const run = promisify(execFile);

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('normalizeRows', () => {
  test('detects, normalizes and describes each value', () => {
    const [domain, bad, unknown] = normalizeRows(['EXAMPLE[.]com.', '01.2.3.4', 'hello'], 'auto', {});
    assert.deepEqual(domain, {
      input: 'EXAMPLE[.]com.', ok: true, type: 'domain', value: 'example.com',
      digest: '5253cef32f9d62fe6fa39cc3f78f2dd99a661d6b51d5fe5c36bc66ba2ac741da',
      name: 'domain-5253cef32f9d62fe6fa39cc3f78f2dd99a661d6b',
      pattern: "[domain-name:value = 'example.com']",
    });
    assert.ok(bad !== undefined && !bad.ok && bad.reason === 'ambiguous-ipv4');
    assert.ok(unknown !== undefined && !unknown.ok && unknown.reason === 'undetected-type' && unknown.message.includes('--type'));
  });

  test('an explicit type wins over detection, and options reach normalize', () => {
    const [asCidr] = normalizeRows(['192.0.2.1'], 'cidr', {});
    assert.ok(asCidr?.ok && asCidr.value === '192.0.2.1/32');
    const [strict] = normalizeRows(['10.1.0.0/8'], 'cidr', { cidrHostBits: 'reject' });
    assert.ok(strict !== undefined && !strict.ok && strict.reason === 'cidr-host-bits');
  });
});

describe('threatmesh normalize', () => {
  test('prints JSON lines and exits 0 when everything is accepted', async () => {
    const r = await cli(['normalize', '--json', '--type', 'url', 'hxxp://evil[.]example/x#frag']);
    assert.equal(r.code, 0, r.stderr);
    const row = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(row['value'], 'http://evil.example/x');
    assert.equal(row['pattern'], "[url:value = 'http://evil.example/x']");
  });

  test('exits 1 and names the reason when a value is rejected', async () => {
    const r = await cli(['normalize', '192.0.2.1', '1.2.3']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ipv4 192\.0\.2\.1$/m);
    assert.match(r.stdout, /reason {3}ambiguous-ipv4/);
    assert.match(r.stderr, /1 of 2 values rejected/);
  });

  test('refuses an unknown --type with usage help', async () => {
    const r = await cli(['normalize', '--type', 'ip', 'x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /expected one of ipv4/);
  });
});
