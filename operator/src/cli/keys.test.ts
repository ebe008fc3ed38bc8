import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PublicKey, SigningKey } from '../domain/signature.ts';
import { generateKeyFiles, rotateKeyFiles } from './keys.ts';
import { parseManifests } from '../runtime/manifest.ts';
import type { PartnerNode } from '../api/types.ts';
import { createValidators, validatorFor } from '../api/validate.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const run = promisify(execFile);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-keys-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('generateKeyFiles', () => {
  test('writes a usable key pair; the private key is mode 0600', () => withTempDir(async (dir) => {
    const out = join(dir, 'nested', 'keys');
    const r = await generateKeyFiles(out, false);
    assert.equal((await stat(r.privateKeyPath)).mode & 0o777, 0o600);
    const signing = SigningKey.fromPem(await readFile(r.privateKeyPath, 'utf8'));
    const pub = PublicKey.fromPem(await readFile(r.publicKeyPath, 'utf8'));
    assert.equal(signing.id, r.keyId);
    assert.equal(pub.id, r.keyId);
    assert.equal(pub.toRawBase64(), r.publicKey);
    assert.ok(pub.verify('proposal', 'x', signing.sign('proposal', 'x')));
  }));

  test('refuses to overwrite an existing key, and leaves it intact', () => withTempDir(async (dir) => {
    await writeFile(join(dir, 'public.pem'), 'existing');
    await assert.rejects(generateKeyFiles(dir, false), /public\.pem already exists.*--force/);
    assert.equal(await readFile(join(dir, 'public.pem'), 'utf8'), 'existing');
    await assert.rejects(stat(join(dir, 'private.pem')), { code: 'ENOENT' });
  }));

  test('--force overwrites and still leaves the private key at 0600', () => withTempDir(async (dir) => {
    await writeFile(join(dir, 'private.pem'), 'old', { mode: 0o644 });
    const r = await generateKeyFiles(dir, true);
    assert.equal((await stat(r.privateKeyPath)).mode & 0o777, 0o600);
    assert.equal(SigningKey.fromPem(await readFile(r.privateKeyPath, 'utf8')).id, r.keyId);
  }));
});

describe('threatmesh keys generate', () => {
  test('--json prints key id and raw base64 public key', () => withTempDir(async (dir) => {
    const { stdout } = await run(process.execPath, [main, 'keys', 'generate', '--out', dir, '--json']);
    const result = JSON.parse(stdout) as { keyId: string; publicKey: string };
    assert.match(result.keyId, /^[0-9a-f]{64}$/);
    assert.equal(PublicKey.fromRawBase64(result.publicKey).id, result.keyId);
  }));

  test('text output names the key id, and a second run into the same directory fails with exit 1', () => withTempDir(async (dir) => {
    const { stdout } = await run(process.execPath, [main, 'keys', 'generate', '-o', dir]);
    assert.match(stdout, /key id: +[0-9a-f]{64}\npublic key: +[A-Za-z0-9+/]{43}=\n/);
    await assert.rejects(run(process.execPath, [main, 'keys', 'generate', '-o', dir]), (err: { code: number; stderr: string }) => err.code === 1 && err.stderr.includes('already exists'));
  }));

  test('--help describes the command', async () => {
    const { stdout } = await run(process.execPath, [main, 'keys', 'generate', '--help']);
    assert.match(stdout, /--out <dir>/);
    assert.match(stdout, /0600/);
  });
});

describe('rotateKeyFiles (threatmesh keys rotate)', () => {
  const now = new Date('2026-12-06T12:00:00.000Z');
  const nodeYaml = (publicKey: string): string => `apiVersion: threatmesh.io/v1alpha1\nkind: PartnerNode\nmetadata:\n  name: partner-a\n  namespace: threatmesh\nspec:\n  partnerId: partner-a\n  organization: A\n  endpoint: a.example:8443\n  publicKey: ${publicKey}\n  roles: [contributor, voter]\n`;

  test('a new pair, the old private key kept aside, the PartnerNode rewritten with the old key retired after the overlap', () => withTempDir(async (dir) => {
    const old = await generateKeyFiles(dir, false);
    const pnPath = join(dir, 'partnernode.yaml');
    await writeFile(pnPath, nodeYaml(old.publicKey));
    const r = await rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '30m' }, now);
    assert.equal(r.validUntil, '2026-12-06T12:30:00.000Z');
    assert.equal(SigningKey.fromPem(await readFile(r.retiredPrivateKeyPath, 'utf8')).publicKey.toRawBase64(), old.publicKey);
    assert.equal((await stat(r.privateKeyPath)).mode & 0o777, 0o600);
    const [pn] = parseManifests(await readFile(pnPath, 'utf8')) as PartnerNode[];
    assert.equal(pn!.spec.publicKey, r.publicKey);
    assert.deepEqual(pn!.spec.retiredKeys, [{ publicKey: old.publicKey, validUntil: '2026-12-06T12:30:00.000Z' }]);
    assert.deepEqual(validatorFor(createValidators(), 'PartnerNode').validate(pn), { ok: true });
    const again = await rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '1h', compromisedAt: '2026-12-06T09:00:00Z' }, now);
    const [twice] = parseManifests(await readFile(pnPath, 'utf8')) as PartnerNode[];
    assert.deepEqual(twice!.spec.retiredKeys?.map((k) => k.validUntil), ['2026-12-06T12:30:00.000Z', '2026-12-06T09:00:00.000Z'], 'a compromise dates the retirement before the leak');
    assert.equal(twice!.spec.publicKey, again.publicKey);
  }));

  const refusals: Array<[string, (dir: string, pnPath: string) => Promise<unknown>, RegExp]> = [
    ['a private key that is not the one the PartnerNode publishes', async (dir, pnPath) => {
      await generateKeyFiles(dir, false);
      await writeFile(pnPath, nodeYaml(SigningKey.generate().publicKey.toRawBase64()));
      return rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '1h' }, now);
    }, /is not the key PartnerNode partner-a publishes/],
    ['no private key in --dir', async (dir, pnPath) => {
      await writeFile(pnPath, nodeYaml(SigningKey.generate().publicKey.toRawBase64()));
      return rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '1h' }, now);
    }, /cannot read .*private\.pem .*give --dir/],
    ['a compromise time that is not ISO 8601', async (dir, pnPath) => rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '1h', compromisedAt: 'yesterday' }, now), /--compromised-at "yesterday" is not an ISO 8601 time/],
    ['a file without a PartnerNode', async (dir, pnPath) => {
      await generateKeyFiles(dir, false);
      await writeFile(pnPath, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
      return rotateKeyFiles({ partnerNode: pnPath, dir, overlap: '1h' }, now);
    }, /must hold exactly one PartnerNode/],
  ];
  for (const [name, attempt, re] of refusals) {
    test(`refuses ${name}, and leaves the key in place`, () => withTempDir(async (dir) => {
      const pnPath = join(dir, 'partnernode.yaml');
      await assert.rejects(attempt(dir, pnPath), re);
    }));
  }
});
