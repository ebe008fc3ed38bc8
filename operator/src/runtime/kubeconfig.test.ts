import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delimiter } from 'node:path';
import { inClusterConfig, loadKubeconfig, resolvedClusterConfig } from './kubeconfig.ts';

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

  test('merges a KUBECONFIG list as kubectl does: the first file naming an entry or a current-context wins', async () => {
    const first = await write('merge-1.yaml', `
contexts: [{ name: dev, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { server: "https://first:1" } }]
users: [{ name: u, user: { token: first } }]
`);
    const second = await write('merge-2.yaml', `
current-context: prod
contexts: [{ name: prod, context: { cluster: p, user: u, namespace: team-a } }, { name: dev, context: { cluster: p, user: u } }]
clusters: [{ name: p, cluster: { server: "https://second:2" } }, { name: c, cluster: { server: "https://ignored:3" } }]
users: [{ name: u, user: { token: ignored } }]
`);
    const list = [first, second].join(delimiter);
    const prod = await loadKubeconfig(list);
    assert.deepEqual([prod.server, prod.token, prod.namespace, prod.context], ['https://second:2', 'first', 'team-a', 'prod']);
    const dev = await loadKubeconfig(list, 'dev');
    assert.deepEqual([dev.server, dev.token], ['https://first:1', 'first']);
    await assert.rejects(loadKubeconfig(list, 'staging'), /no entry named "staging" in contexts; --context must name one of: dev, prod/);
  });

  test('an exec credential plugin authenticates every request; a relative command resolves against the kubeconfig', async () => {
    const calls = join(dir, 'exec-calls');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'bin', 'cred.sh'), `#!/bin/sh\necho call >> ${calls}\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`);
    await chmod(join(dir, 'bin', 'cred.sh'), 0o755);
    const p = await write('exec.yaml', `
current-context: x
contexts: [{ name: x, context: { cluster: c, user: eks } }]
clusters: [{ name: c, cluster: { server: "https://h:1" } }]
users:
- name: eks
  user:
    exec: { apiVersion: client.authentication.k8s.io/v1, command: ./bin/cred.sh, args: [] }
`);
    const cfg = await loadKubeconfig(p);
    assert.equal(cfg.token, undefined, 'no static token');
    const opts: { headers: Record<string, string> } = { headers: {} };
    await cfg.kubeConfig?.applyToHTTPSOptions(opts);
    assert.equal(opts.headers['Authorization'], 'Bearer from-plugin');
    const plain = await resolvedClusterConfig(cfg);
    assert.equal(plain.token, 'from-plugin');
    assert.equal(plain.kubeConfig, undefined);
    assert.deepEqual(structuredClone(plain).server, 'https://h:1', 'plain data crosses a structured clone');
    assert.ok((await readFile(calls, 'utf8')).includes('call'), 'the plugin ran');
  });

  test('a token file is re-read by client-node (tokenFile auth) and a newline does not reach the header', async () => {
    await writeFile(join(dir, 'sa-token'), 'rotating-1\n');
    const p = await write('tokenfile.yaml', `
current-context: x
contexts: [{ name: x, context: { cluster: c, user: sa } }]
clusters: [{ name: c, cluster: { server: "https://h:1" } }]
users: [{ name: sa, user: { tokenFile: sa-token } }]
`);
    const cfg = await loadKubeconfig(p);
    assert.equal(cfg.tokenFile, join(dir, 'sa-token'));
    const opts: { headers: Record<string, string> } = { headers: {} };
    await cfg.kubeConfig?.applyToHTTPSOptions(opts);
    assert.equal(opts.headers['Authorization']?.trim(), 'Bearer rotating-1');
  });

  const badUsers: { name: string; user: string; err: RegExp }[] = [
    { name: 'exec without command', user: '{ exec: { apiVersion: client.authentication.k8s.io/v1 } }', err: /users\[u\]\.user\.exec\.command is missing/ },
    { name: 'exec with an old apiVersion', user: '{ exec: { apiVersion: client.authentication.k8s.io/v1alpha1, command: x } }', err: /v1alpha1" is not supported; use client\.authentication\.k8s\.io\/v1/ },
    { name: 'exec args not strings', user: '{ exec: { command: x, args: [1] } }', err: /exec\.args must be a list of strings/ },
  ];
  for (const t of badUsers) {
    test(`fails clearly: ${t.name}`, async () => {
      const p = await write(`bad-user-${t.name.replace(/\W/g, '_')}.yaml`, `current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://h:1"}}]\nusers: [{name: u, user: ${t.user}}]\n`);
      await assert.rejects(loadKubeconfig(p), t.err);
    });
  }
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
