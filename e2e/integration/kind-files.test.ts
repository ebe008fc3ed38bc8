/**
 * The kind target's files, checked without a container engine (kind cannot run on this machine):
 * the GitHub Actions workflow runs e2e/kind/run.sh up, test and down with the pinned Node and
 * helm; run.sh is valid bash, installs the platform at the versions of ../shared/crds (the CRDs
 * the chart is validated against), and runs the same journey files as `npm run test:e2e`; the
 * kind cluster config hands networking to Cilium. The install half of the kind target runs
 * against local kube-apiservers in kind-target.test.ts.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { upstreamCrdDir } from '../../cdk8s/upstream.ts';
import { ROOT } from '../harness/install.ts';

const run = promisify(execFile);
const text = (rel: string): Promise<string> => readFile(join(ROOT, rel), 'utf8');
const pinned = (src: string, name: string): string => new RegExp(`^${name}=(\\S+)`, 'm').exec(src)?.[1] ?? '';

interface Step { readonly uses?: string; readonly run?: string; readonly with?: Record<string, unknown>; readonly if?: string }

describe('kind target files', () => {
  it('the workflow sets up the pinned Node and helm, then runs run.sh up, test and (always) down', async () => {
    const wf = parse(await text('.github/workflows/kind-e2e.yaml')) as { jobs: { kind: { steps: Step[]; 'timeout-minutes': number } } };
    const steps = wf.jobs.kind.steps;
    const runs = steps.flatMap((s) => (s.run ? [s.run.trim()] : []));
    for (const cmd of ['npm ci', 'e2e/kind/run.sh up', 'e2e/kind/run.sh test']) assert.ok(runs.includes(cmd), `the workflow runs ${cmd}`);
    assert.equal(steps.find((s) => s.run?.trim() === 'e2e/kind/run.sh down')?.if, 'always()', 'the clusters are deleted whatever happened');
    assert.equal(steps.find((s) => s.uses?.startsWith('actions/setup-node'))?.with?.['node-version-file'], '.nvmrc');
    assert.equal(steps.find((s) => s.uses?.startsWith('azure/setup-helm'))?.with?.['version'], pinned(await text('scripts/tools.sh'), 'HELM_VERSION'), 'the helm the chart is tested with');
    assert.ok(runs.indexOf('e2e/kind/run.sh up') < runs.indexOf('e2e/kind/run.sh test'));
  });

  it('run.sh is valid bash, pins the platform at the versions of ../shared/crds and runs the journey files of npm run test:e2e', async () => {
    await run('bash', ['-n', join(ROOT, 'e2e/kind/run.sh')]);
    const sh = await text('e2e/kind/run.sh');
    const readme = await readFile(join(upstreamCrdDir(ROOT), 'README.md'), 'utf8');
    const cases: ReadonlyArray<[string, RegExp]> = [
      ['CILIUM_VERSION', /`cilium\/`[^\n]*`v?([0-9.]+)`/],
      ['CERT_MANAGER_VERSION', /`cert-manager\/`[^\n]*`(v[0-9.]+)`/],
      ['MONGODB_KUBERNETES_VERSION', /`mongodb-kubernetes\/`[^\n]*`([0-9.]+)`/],
    ];
    for (const [name, re] of cases) {
      const want = re.exec(readme)?.[1];
      assert.ok(want, `${name}: version found in shared/crds/README.md`);
      assert.equal(pinned(sh, name), want, `${name} in run.sh matches the CRDs the chart is checked against`);
    }
    const journeys = (await readdir(join(ROOT, 'e2e/journeys'))).filter((f) => /^(network|revocation)\.test\.ts$/.test(f));
    for (const f of journeys) assert.match(sh, new RegExp(`e2e/journeys/${f.replace('.', '\\.')}`), `run.sh runs ${f}`);
    assert.match(sh, /THREATMESH_E2E_TARGET=kind/);
  });

  it('the kind clusters leave networking to Cilium (no kindnet, no kube-proxy), one node each', async () => {
    const cfg = parse(await text('e2e/kind/kind-config.yaml')) as { kind: string; apiVersion: string; networking: Record<string, unknown>; nodes: Array<{ role: string }> };
    assert.equal(cfg.kind, 'Cluster');
    assert.equal(cfg.apiVersion, 'kind.x-k8s.io/v1alpha4');
    assert.deepEqual(cfg.networking, { disableDefaultCNI: true, kubeProxyMode: 'none' });
    assert.deepEqual(cfg.nodes.map((n) => n.role), ['control-plane']);
  });
});
