import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderKubeconfig } from './kubeconfig.ts';
import { loadKubeconfig } from '../../runtime/kubeconfig.ts';

test('a rendered kubeconfig loads back with the same server and inline credentials', async () => {
  const creds = { server: 'https://127.0.0.1:6443', caPem: 'CA PEM\n', certPem: 'CERT PEM\n', keyPem: 'KEY PEM\n' };
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
  try {
    const path = join(dir, 'kubeconfig');
    await writeFile(path, renderKubeconfig('tm-0', creds));
    const cfg = await loadKubeconfig(path);
    assert.equal(cfg.server, creds.server);
    assert.equal(cfg.ca?.toString(), creds.caPem);
    assert.equal(cfg.cert?.toString(), creds.certPem);
    assert.equal(cfg.key?.toString(), creds.keyPem);
    assert.match(cfg.source, /context tm-0/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
