/**
 * The Helm chart and the cdk8s app render the same objects for the defaults and for non-default
 * value sets; helm lint passes; every rendered manifest of both passes kubeconform -strict against
 * the Kubernetes schemas and the CRD schemas; haproxy -c accepts the rendered haproxy.cfg of both
 * roles. Real helm, kubeconform and haproxy (scripts/tools.sh).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPLICA_API_NO_CA, resolveValues } from '../../cdk8s/values.ts';
import { DENY_HOSTS_MAP, DENY_IPS_MAP } from '../../cdk8s/lib/haproxycfg.ts';
import { ROOT, allCrdTexts, byKey, cdk8sObjects, crdSchemas, helmTemplate, kubeconform, tools, type Tools } from '../harness/install.ts';

const run = promisify(execFile);

/** A CA bundle value (only its PEM header is checked when rendering). */
const TEST_PEM = '-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUZXhhbXBsZQ==\n-----END CERTIFICATE-----\n';

/** Value sets compared between chart and app: defaults and nine others that move every switch. */
const VALUE_SETS: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['defaults', {}],
  ['sequencer, 3 replicas, quorum 3, 5 MongoDB members', { role: 'sequencer', partnerId: 'sequencer', sequencer: { replicas: 3, quorum: 3, votingWindow: '24h' }, mongodb: { members: 5 } }],
  ['sequencer with V8\'s default young generation and its own mmap threshold', { role: 'sequencer', partnerId: 'sequencer', sequencer: { memory: { maxSemiSpaceMiB: 0, mallocMmapThreshold: 262144 } } }],
  ['sequencer with neither memory setting', { role: 'sequencer', partnerId: 'sequencer', sequencer: { memory: { maxSemiSpaceMiB: 0, mallocMmapThreshold: 0 } } }],
  ['partner without serve, enforcer, replica API, ceph and monitoring', { partnerId: 'partner-b', serve: { enabled: false }, enforce: { enabled: false }, replicaApi: { enabled: false }, ceph: { enabled: false }, monitoring: { enabled: false } }],
  ['partner with network lists, ClusterIP front door, own image', {
    image: { repository: 'registry.example.org/tm', tag: 'dev', pullPolicy: 'Always' }, haproxy: { serviceType: 'ClusterIP', replicas: 3, hostname: 'tm.example.org' },
    network: { feeds: { fqdns: ['feeds.example.org'], cidrs: ['198.51.100.0/24'], port: 8443 }, peers: { fqdns: ['b.example.org'], cidrs: ['203.0.113.7/32'], port: 8444 }, apiClients: [], edgeAgents: ['10.20.0.0/16'] },
  }],
  ['partner without MongoDB, other namespace, resources, TLS names', {
    partnerId: 'partner-c', namespace: 'tm-c', mongodb: { enabled: false }, operator: { replicas: 3, resources: { cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' }, votingWindow: '48h' },
    enforce: { replicas: 1, resources: { cpu: '50m', memory: '128Mi', memoryLimit: '2Gi' } },
    tls: { issuerKind: 'Issuer', issuerName: 'tm-ca', networkSecret: 'net', signingKeySecret: 'sig' }, serve: { tlsSecret: 'serve-cert', replicas: 1 },
  }],
  ['sequencer without front door, single-replica pools, storage', {
    role: 'sequencer', partnerId: 'seq', haproxy: { enabled: false }, ceph: { poolReplicas: 1, osdCount: 5, osdSize: '500Gi', deviceClass: 'fast', namespace: 'ceph' },
    mongodb: { storageSize: '100Gi', storageClass: 'fast-block', version: '7.0.21' }, monitoring: { grafanaLabel: 'ops', ruleLabels: { team: 'secops' } },
  }],
  ['partner without front door: clients, peers and edge agents direct', { partnerId: 'partner-d', haproxy: { enabled: false }, network: { apiClients: ['192.0.2.0/24'], edgeAgents: ['10.20.0.0/16'] } }],
  ['partner with the replica API on its own Secret and CA', { partnerId: 'partner-e', replicaApi: { replicas: 3, resources: { cpu: '50m', memory: '64Mi', memoryLimit: '256Mi' }, tls: { certManager: false, existingSecret: 'replica-tls', caBundle: TEST_PEM } } }],
];

/**
 * Where the replica API's CA bundle comes from: the chart renders (cert-manager, or the user's
 * Secret and CA) or fails with the message values.ts gives, never insecureSkipTLSVerify.
 */
const CA_CASES: ReadonlyArray<[string, Record<string, unknown>, string | RegExp | undefined]> = [
  ['cert-manager (default)', {}, undefined],
  ['own Secret and CA bundle', { replicaApi: { tls: { certManager: false, existingSecret: 'replica-tls', caBundle: TEST_PEM } } }, undefined],
  ['neither cert-manager nor a Secret', { replicaApi: { tls: { certManager: false } } }, REPLICA_API_NO_CA],
  ['a Secret, no CA bundle, nothing to look it up in (helm template)', { replicaApi: { tls: { certManager: false, existingSecret: 'replica-tls' } } }, 'replicaApi.tls.caBundle: empty, and the Secret replica-tls cannot be read at render time: set replicaApi.tls.caBundle to the PEM of the CA that signed the certificate in replica-tls'],
  ['no CA source, replica API off', { replicaApi: { enabled: false, tls: { certManager: false } } }, undefined],
  ['no CA source, sequencer (no replica API)', { role: 'sequencer', replicaApi: { tls: { certManager: false } } }, undefined],
  ['a CA bundle that is not PEM (the schema refuses it)', { replicaApi: { tls: { certManager: false, existingSecret: 'replica-tls', caBundle: 'LS0tLS1CRUdJTg==' } } }, /replicaApi[./]tls[./]caBundle.*BEGIN CERTIFICATE/],
];

describe('Helm chart and cdk8s app', { timeout: 1_800_000 }, () => {
  let t: Tools;
  let schemas: string;
  before(async () => {
    t = await tools();
    schemas = await crdSchemas(await allCrdTexts());
  });

  for (const [name, overrides] of VALUE_SETS) {
    it(`render the same objects: ${name}`, async () => {
      const app = byKey(cdk8sObjects(resolveValues(overrides)));
      const chart = byKey(await helmTemplate(t, overrides));
      assert.deepEqual([...chart.keys()].sort(), [...app.keys()].sort(), 'the same objects (kind/namespace/name)');
      for (const [k, obj] of app) assert.deepEqual(chart.get(k), obj, `chart and cdk8s differ in ${k}`);
    });

    it(`pass kubeconform -strict: ${name}`, async () => {
      const objects = [...cdk8sObjects(resolveValues(overrides)), ...await helmTemplate(t, overrides)];
      const out = await kubeconform(t, schemas, objects);
      assert.match(out, /Invalid: 0, Errors: 0, Skipped: 0/, out);
    });
  }

  for (const [name, overrides, message] of CA_CASES) {
    it(`replica API CA source: ${name}`, async () => {
      if (message !== undefined) {
        const says = (err: Error): boolean => (typeof message === 'string' ? err.message.includes(message) : message.test(err.message));
        await assert.rejects(helmTemplate(t, overrides), says, `helm template fails with: ${String(message)}`);
        assert.throws(() => resolveValues(overrides), says, `the cdk8s app refuses with: ${String(message)}`);
        return;
      }
      const objects = await helmTemplate(t, overrides);
      const api = objects.find((o) => o.kind === 'APIService');
      assert.doesNotMatch(JSON.stringify(objects), /insecureSkipTLSVerify/i);
      if (api === undefined) return assert.ok(!objects.some((o) => o.metadata.name === 'threatmesh-replica-api'), 'no replica API objects without the APIService');
      const spec = api['spec'] as { caBundle?: string };
      const inject = (api.metadata['annotations'] as Record<string, string> | undefined)?.['cert-manager.io/inject-ca-from'];
      assert.ok((spec.caBundle === undefined) !== (inject === undefined), 'exactly one CA source: caBundle or the CA injector');
      if (spec.caBundle !== undefined) assert.equal(Buffer.from(spec.caBundle, 'base64').toString(), TEST_PEM);
    });
  }

  it('kubeconform -strict fails an object with a field the schema lacks (the check can fail)', async () => {
    const [first] = cdk8sObjects(resolveValues({})).filter((o) => o.kind === 'CiliumNetworkPolicy');
    assert.ok(first);
    await assert.rejects(kubeconform(t, schemas, [{ ...first, spec: { ...(first['spec'] as object), egresss: [] } }]), /egresss|additional/i);
  });

  it('helm lint passes with the defaults and a sequencer, and rejects values the schema forbids', async () => {
    await run(t.HELM, ['lint', '--strict', join(ROOT, 'charts/threatmesh')]);
    await run(t.HELM, ['lint', '--strict', join(ROOT, 'charts/threatmesh'), '--set', 'role=sequencer']);
    await assert.rejects(run(t.HELM, ['lint', join(ROOT, 'charts/threatmesh'), '--set', 'operator.replicas=0']), /replicas/);
  });

  const HAPROXY_CASES: ReadonlyArray<[string, Record<string, unknown>]> = [['partner', {}], ['sequencer', { role: 'sequencer' }], ['partner without HTTPS APIs', { serve: { enabled: false } }]];
  for (const [name, values] of HAPROXY_CASES) {
    it(`haproxy -c accepts the rendered haproxy.cfg (${name})`, async () => {
      const cm = (await helmTemplate(t, values)).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'threatmesh-haproxy');
      const cfg = (cm?.['data'] as Record<string, string> | undefined)?.['haproxy.cfg'];
      assert.ok(cfg, 'the chart renders the haproxy ConfigMap');
      const dir = await mkdtemp(join(tmpdir(), 'tm-haproxy-c-'));
      // The container paths, moved into a temp folder: maps and a certificate must exist for -c.
      const local = cfg.replaceAll('/etc/haproxy/', `${dir}/`).replaceAll('/var/run/haproxy/', `${dir}/`);
      await mkdir(join(dir, 'maps'));
      await mkdir(join(dir, 'tls'));
      await mkdir(join(dir, 'serve-ca'));
      for (const m of [DENY_HOSTS_MAP, DENY_IPS_MAP]) await writeFile(join(dir, 'maps', m), '');
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=frontdoor', '-days', '1', '-keyout', join(dir, 'tls/frontdoor.pem.key'), '-out', join(dir, 'tls/frontdoor.pem')]);
      await writeFile(join(dir, 'serve-ca/ca.crt'), await (await import('node:fs/promises')).readFile(join(dir, 'tls/frontdoor.pem')));
      await writeFile(join(dir, 'haproxy.cfg'), local);
      const { stdout, stderr } = await run(t.HAPROXY, ['-c', '-f', join(dir, 'haproxy.cfg')]);
      assert.match(stdout, /Configuration file is valid/);
      // HAProxy deprecates with a warning before it removes (3.x refuses what 2.6 warned about):
      // the only warnings allowed are the Service names this machine cannot resolve.
      const warnings = stderr.split('\n').filter((l) => l.includes('[WARNING]') && !/could not resolve address/.test(l));
      assert.deepEqual(warnings, [], 'haproxy -c warns about the rendered configuration');
      if (name === 'partner without HTTPS APIs') assert.doesNotMatch(cfg, /partner-api|backend be-serve|frontdoor\.pem/, 'no HTTPS API frontend nor its certificate');
      await writeFile(join(dir, 'broken.cfg'), local.replace('mode tcp', 'mode tcpp'));
      await assert.rejects(run(t.HAPROXY, ['-c', '-f', join(dir, 'broken.cfg')]), /tcpp/);
    });
  }
});
