/**
 * The rendered manifests of a partner and of the sequencer apply to a real kube-apiserver with
 * server-side apply in dry-run mode (strict field validation), after the dependency CRDs
 * (Cilium, Rook, Argo CD, cert-manager, Prometheus Operator, MongoDB Community, Grafana
 * Operator, from shared/crds) and the ThreatMesh CRDs are installed for real. The API server
 * checks every object against the CRD's structural schema and CEL rules; a bogus field fails.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { renderGitOps, renderInstall, type Manifest } from '../../cdk8s/app.ts';
import { resolveValues } from '../../cdk8s/values.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { KubeHttpClient, resourcePath } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { allCrdTexts, parseStream } from '../harness/install.ts';

describe('rendered manifests on a real API server (server-side dry run)', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let client: KubeHttpClient;
  before(async () => {
    cp = await startControlPlane(controlPlaneOptionsFromEnv({ mongo: false }));
    client = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 30_000 });
    const crds = (await allCrdTexts()).flatMap((t) => parseStream(t)) as unknown as KubeObject[];
    await applyManifests(client, crds, 'threatmesh-install-test');
  });
  after(async () => {
    client.close();
    await cp.stop();
  });

  async function dryRunApply(objects: readonly Manifest[]): Promise<string[]> {
    const failures: string[] = [];
    for (const o of objects) {
      const ref = await client.discover(o.apiVersion, o.kind);
      const path = resourcePath(ref, ref.namespaced ? o.metadata.namespace : undefined, o.metadata.name);
      try {
        await client.json({ method: 'PATCH', path, query: { dryRun: 'All', fieldManager: 'threatmesh-install-test', fieldValidation: 'Strict', force: true }, body: o, contentType: 'application/apply-patch+yaml' });
      } catch (err) {
        failures.push(`${o.kind}/${o.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }

  for (const role of ['partner', 'sequencer'] as const) {
    it(`every object of a ${role} (and its Argo CD objects) is accepted`, async () => {
      const s = uniqueSuffix();
      const v = resolveValues({ role, partnerId: `${role}-${s}`, namespace: `tm-${s}`, ceph: { namespace: `ceph-${s}` }, gitops: { argocdNamespace: `argocd-${s}` } });
      const components = renderInstall(v);
      const objects = [...components.flatMap((c) => c.objects), ...renderGitOps(v, components.map((c) => c.component))];
      const namespaces = [v.namespace, v.ceph.namespace, v.gitops.argocdNamespace].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
      await applyManifests(client, namespaces, 'threatmesh-install-test');
      const failures = await dryRunApply(objects);
      assert.deepEqual(failures, []);
      assert.ok(objects.length > 20, `${objects.length} objects`);
    });
  }

  it('a field the schema does not have is refused (the dry run can fail)', async () => {
    const v = resolveValues({ namespace: 'default' });
    const policy = renderInstall(v).flatMap((c) => c.objects).find((o) => o.kind === 'CiliumNetworkPolicy');
    assert.ok(policy);
    const failures = await dryRunApply([{ ...policy, spec: { ...(policy['spec'] as object), egresss: [] } }]);
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? '', /egresss/);
  });
});
