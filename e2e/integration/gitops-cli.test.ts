/**
 * `threatmesh gitops render` as a child process, as a platform team runs it: a partner's and the
 * sequencer's repository (one folder per component, one file per object, the Argo CD AppProject
 * and one Application per folder pointing at the values' repoURL), committed to git; rendering
 * again commits only the difference (a component switched off disappears) or nothing; bad flags
 * and values are refused with an error naming the flag or the field, and nothing is written.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { runCli } from '../harness/cli.ts';

const run = promisify(execFile);
const git = async (dir: string, ...args: string[]): Promise<string> => (await run('git', ['-C', dir, ...args])).stdout.trim();
const readYaml = async (path: string): Promise<unknown> => parse(await readFile(path, 'utf8')) as unknown;
/** The value at a dotted path of a parsed YAML document (undefined when absent). */
const at = (doc: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), doc);

const PARTNER_VALUES = {
  namespace: 'tm-acme',
  operator: { replicas: 3 },
  haproxy: { enabled: false },
  gitops: { repoURL: 'https://git.acme.example/security/threatmesh.git', targetRevision: 'release' },
};

describe('threatmesh gitops render', { timeout: 300_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tm-gitops-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const valuesFile = async (name: string, content: unknown): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : stringify(content));
    return path;
  };

  it('--help names every flag', async () => {
    const r = await runCli(['gitops', 'render', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--partner', '--sequencer', '--values', '--out', '--no-git', '--json']) assert.match(r.stdout, new RegExp(flag));
  });

  it('writes a partner\'s repository from values, one folder per component, with its Argo CD objects, in one commit', async () => {
    const out = join(dir, 'acme');
    const r = await runCli(['gitops', 'render', '--partner', 'acme', '--values', await valuesFile('acme.yaml', PARTNER_VALUES), '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { role: string; partnerId: string; components: string[]; commit: string };
    assert.equal(result.role, 'partner');
    assert.equal(result.partnerId, 'acme');
    assert.deepEqual(result.components, ['argocd', 'ceph', 'cilium', 'crds', 'enforcer', 'mongodb', 'monitoring', 'operator', 'replica-api', 'serve']);
    assert.equal(await git(out, 'rev-parse', 'HEAD'), result.commit);
    assert.equal(await git(out, 'status', '--porcelain'), '');
    assert.equal(await git(out, 'rev-list', '--count', 'HEAD'), '1');

    const argocd = await Promise.all((await readdir(join(out, 'argocd'))).map((f) => readYaml(join(out, 'argocd', f))));
    const apps = argocd.filter((o) => at(o, 'kind') === 'Application');
    assert.equal(argocd.filter((o) => at(o, 'kind') === 'AppProject').length, 1);
    assert.deepEqual(apps.map((a) => String(at(a, 'spec.source.path'))).sort(), result.components.filter((c) => c !== 'argocd'));
    for (const a of apps) {
      assert.equal(at(a, 'spec.source.repoURL'), PARTNER_VALUES.gitops.repoURL);
      assert.equal(at(a, 'spec.source.targetRevision'), 'release');
    }
    const operator = await readYaml(join(out, 'operator', 'deployment-threatmesh-operator.yaml'));
    assert.equal(at(operator, 'metadata.namespace'), 'tm-acme');
    assert.equal(at(operator, 'spec.replicas'), 3);
    const stored = await readYaml(join(out, 'values.yaml'));
    assert.equal(at(stored, 'partnerId'), 'acme');
    assert.equal(at(stored, 'haproxy.enabled'), false);
  });

  it('renders again: a component switched off is removed in a second commit; the same values commit nothing', async () => {
    const out = join(dir, 'acme');
    const off = await valuesFile('acme-off.yaml', { ...PARTNER_VALUES, enforce: { enabled: false } });
    const r = await runCli(['gitops', 'render', '--partner', 'acme', '--values', off, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await git(out, 'rev-list', '--count', 'HEAD'), '2');
    const changed = (await git(out, 'diff', '--name-status', 'HEAD~1', 'HEAD')).split('\n');
    assert.ok(changed.some((l) => /^D\tenforcer\//.test(l)), changed.join('\n'));
    // Only the enforcer's objects, its Application and its policy go; other policies lose its flows.
    assert.ok(changed.every((l) => /^D\t(enforcer\/|argocd\/application-threatmesh-acme-enforcer\.yaml|cilium\/ciliumnetworkpolicy-threatmesh-enforcer\.yaml)|^M\t(values\.yaml|README\.md|argocd\/|cilium\/)/.test(l)), changed.join('\n'));
    await assert.rejects(readdir(join(out, 'enforcer')), /ENOENT/);

    const same = await runCli(['gitops', 'render', '--partner', 'acme', '--values', off, '--out', out]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /nothing changed/);
    assert.equal(await git(out, 'rev-list', '--count', 'HEAD'), '2');
  });

  it('--sequencer renders the sequencer\'s side (no partner operator), and --no-git writes no repository', async () => {
    const out = join(dir, 'seq');
    const r = await runCli(['gitops', 'render', '--sequencer', 'net-seq', '--out', out, '--no-git', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { role: string; components: string[]; commit?: string };
    assert.equal(result.role, 'sequencer');
    assert.ok(result.components.includes('sequencer'));
    assert.ok(!result.components.includes('operator') && !result.components.includes('enforcer'), result.components.join());
    assert.equal(result.commit, undefined);
    await assert.rejects(readdir(join(out, '.git')), /ENOENT/);
  });

  const refusals: ReadonlyArray<{ name: string; args: (f: (n: string, c: unknown) => Promise<string>) => string[] | Promise<string[]>; message: RegExp }> = [
    { name: 'both roles', args: () => ['--partner', 'a', '--sequencer', 'b'], message: /exactly one of --partner NAME .* or --sequencer NAME/ },
    { name: 'no role', args: () => [], message: /exactly one of --partner/ },
    { name: 'a values file that does not exist', args: () => ['--partner', 'a', '--values', join(dir, 'missing.yaml')], message: /--values .*missing\.yaml: cannot read it \(ENOENT\)/ },
    { name: 'values that are not YAML', args: async (f) => ['--partner', 'a', '--values', await f('bad.yaml', 'operator: [1, 2\n')], message: /bad\.yaml: invalid values:\n\s+not YAML/ },
    { name: 'a field of the wrong type', args: async (f) => ['--partner', 'a', '--values', await f('type.yaml', { operator: { replicas: 'two' } })], message: /operator\.replicas: must be integer/ },
    { name: 'an unknown field', args: async (f) => ['--partner', 'a', '--values', await f('unknown.yaml', { mongodb: { sharded: true } })], message: /mongodb\.sharded: unknown field \(see charts\/threatmesh\/values\.schema\.json/ },
    { name: 'a value outside its enum', args: async (f) => ['--partner', 'a', '--values', await f('enum.yaml', { haproxy: { serviceType: 'Ingress' } })], message: /haproxy\.serviceType: must be one of "LoadBalancer", "NodePort", "ClusterIP"/ },
    { name: 'a malformed CIDR', args: async (f) => ['--partner', 'a', '--values', await f('cidr.yaml', { network: { feeds: { cidrs: ['10.0.0.0'] } } })], message: /network\.feeds\.cidrs\.0: must match pattern/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}, naming what is wrong, and writes nothing`, async () => {
      const out = join(dir, `refused-${c.name.replaceAll(' ', '-')}`);
      const r = await runCli(['gitops', 'render', ...await c.args(valuesFile), '--out', out]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, c.message);
      await assert.rejects(readdir(out), /ENOENT/);
    });
  }

  it('refuses an --out folder that holds something else, and leaves it untouched', async () => {
    const out = join(dir, 'other');
    await mkdir(out);
    await writeFile(join(out, 'notes.txt'), 'mine');
    const r = await runCli(['gitops', 'render', '--partner', 'a', '--out', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not empty and is not a rendered ThreatMesh repository .*choose an empty or new folder/);
    assert.deepEqual(await readdir(out), ['notes.txt']);
  });

  it('refuses a missing --out', async () => {
    const r = await runCli(['gitops', 'render', '--partner', 'a']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--out DIR is required/);
  });
});
