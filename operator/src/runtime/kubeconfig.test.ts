import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inClusterConfig, loadKubeconfig } from './kubeconfig.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-kubeconfig-'));
  await mkdir(join(dir, 'pki'));
  await writeFile(join(dir, 'pki', 'ca.crt'), 'CA-PEM');
  await writeFile(join(dir, 'pki', 'admin.crt'), 'CERT-PEM');
  await writeFile(join(dir, 'pki', 'admin.key'), 'KEY-PEM');
});
after(() => rm(dir, { recursive: true, force: true }));

async function write(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('loadKubeconfig', () => {
  test('reads the current context with relative file paths', async () => {
    const p = await write('files.yaml', `
apiVersion: v1
kind: Config
current-context: local
contexts:
- name: other
  context: { cluster: nope, user: nope }
- name: local
  context: { cluster: cp, user: admin }
clusters:
- name: cp
  cluster: { server: "https://127.0.0.1:6443", certificate-authority: pki/ca.crt }
users:
- name: admin
  user: { client-certificate: pki/admin.crt, client-key: ${join(dir, 'pki', 'admin.key')} }
`);
    const c = await loadKubeconfig(p);
    assert.equal(c.server, 'https://127.0.0.1:6443');
    assert.equal(c.ca?.toString(), 'CA-PEM');
    assert.equal(c.cert?.toString(), 'CERT-PEM');
    assert.equal(c.key?.toString(), 'KEY-PEM');
    assert.equal(c.insecureSkipTlsVerify, false);
    assert.match(c.source, /context local/);
  });

  test('reads inline data, tokens and insecure-skip-tls-verify; an explicit context wins', async () => {
    const p = await write('inline.yaml', `
current-context: a
contexts:
- { name: a, context: { cluster: c1, user: u1 } }
- { name: b, context: { cluster: c2, user: u2 } }
clusters:
- { name: c1, cluster: { server: "https://a:1", certificate-authority-data: ${b64('CA1')} } }
- { name: c2, cluster: { server: "https://b:2", insecure-skip-tls-verify: true } }
users:
- { name: u1, user: { client-certificate-data: ${b64('C1')}, client-key-data: ${b64('K1')} } }
- { name: u2, user: { token: s3cret, tokenFile: tok } }
`);
    const a = await loadKubeconfig(p);
    assert.equal(a.ca?.toString(), 'CA1');
    assert.equal(a.cert?.toString(), 'C1');
    const b = await loadKubeconfig(p, 'b');
    assert.equal(b.server, 'https://b:2');
    assert.equal(b.insecureSkipTlsVerify, true);
    assert.equal(b.token, 's3cret');
    assert.equal(b.tokenFile, join(dir, 'tok'));
  });

  const bad: { name: string; text: string; err: RegExp }[] = [
    { name: 'no current-context', text: 'contexts: []', err: /current-context is missing/ },
    { name: 'unknown context', text: 'current-context: x\ncontexts: []', err: /no entry named "x" in contexts/ },
    { name: 'cluster without server', text: 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]', err: /clusters\[c\]\.cluster\.server is missing/ },
    { name: 'server not a URL', text: 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: "not a url"}}]', err: /server is not a URL/ },
    { name: 'missing CA file', text: 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: gone.crt}}]', err: /certificate-authority names .*gone\.crt, which cannot be read/ },
    { name: 'not YAML', text: 'a: [', err: /not valid YAML/ },
    { name: 'a list at the top', text: '- 1', err: /\(document\) must be a mapping/ },
  ];
  for (const t of bad) {
    test(`fails clearly: ${t.name}`, async () => {
      const p = await write(`bad-${t.name.replace(/\W/g, '_')}.yaml`, t.text);
      await assert.rejects(loadKubeconfig(p), (err: Error) => {
        assert.match(err.message, t.err);
        assert.ok(err.message.includes(p), 'the message names the file');
        return true;
      });
    });
  }

  test('a missing file says what to do', async () => {
    await assert.rejects(loadKubeconfig(join(dir, 'absent')), /cannot read it .*set KUBECONFIG/);
  });
});

describe('inClusterConfig', () => {
  test('uses the service account directory and the service host/port', async () => {
    const sa = join(dir, 'sa');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'tok');
    await writeFile(join(sa, 'ca.crt'), 'SA-CA');
    const c = await inClusterConfig('10.0.0.1', '443', sa);
    assert.equal(c.server, 'https://10.0.0.1:443');
    assert.equal(c.ca?.toString(), 'SA-CA');
    assert.equal(c.tokenFile, join(sa, 'token'));
    assert.equal((await inClusterConfig('fd00::1', '443', sa)).server, 'https://[fd00::1]:443');
  });
  test('outside a pod it says to set KUBECONFIG', async () => {
    await assert.rejects(inClusterConfig(undefined, undefined), /set KUBECONFIG/);
    await assert.rejects(inClusterConfig('h', '1', join(dir, 'nowhere')), /cannot read .*ca\.crt/);
  });
});
