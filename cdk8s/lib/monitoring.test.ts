/**
 * The installation's one ServiceMonitor reaches every ThreatMesh process that serves /metrics:
 * for each Deployment below, a Service the ServiceMonitor selects selects its pods and has the
 * endpoint's port, whose target is the container port `metrics`, which is the port of the pods'
 * `prometheus.io/port` annotation and of the process's `--metrics-bind`. The chart renders the
 * same objects (e2e/integration/install-chart.test.ts).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { renderInstall, type Manifest } from '../app.ts';
import { resolveValues } from '../values.ts';

type Labels = Record<string, string>;
interface Container { readonly args?: string[]; readonly ports?: Array<{ name?: string; containerPort: number }> }
interface PodTemplate { readonly metadata: { labels?: Labels; annotations?: Labels }; readonly spec: { containers: Container[] } }

const objectsOf = (overrides: Record<string, unknown>): Manifest[] => renderInstall(resolveValues(overrides)).flatMap((c) => c.objects);
const subset = (want: Labels | undefined, have: Labels | undefined): boolean => Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);

interface Monitor { readonly selector: { matchLabels: Labels }; readonly endpoints: Array<{ port: string }> }

// The target ports of the ServiceMonitor's endpoint port on Services it selects that select `pod`.
function scrapedTargets(objects: readonly Manifest[], sm: Monitor, pod: PodTemplate): number[] {
  const services = objects.filter((o) => o.kind === 'Service' && subset(sm.selector.matchLabels, o.metadata['labels'] as Labels | undefined)
    && subset((o['spec'] as { selector?: Labels }).selector, pod.metadata.labels));
  return services.flatMap((s) => (s['spec'] as { ports: Array<{ name: string; targetPort: number }> }).ports).filter((p) => p.name === sm.endpoints[0]?.port).map((p) => p.targetPort);
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

// The container serving `metrics` and that port's number.
function metricsContainer(pod: PodTemplate): { container: Container; port: number } | undefined {
  for (const container of pod.spec.containers) {
    const port = container.ports?.find((p) => p.name === 'metrics')?.containerPort;
    if (port !== undefined) return { container, port };
  }
  return undefined;
}

/** Why the ServiceMonitor of `objects` does not scrape Deployment `name`'s /metrics; empty when it does. */
export function scrapeProblems(objects: readonly Manifest[], name: string): string[] {
  const sm = objects.find((o) => o.kind === 'ServiceMonitor')?.['spec'] as Monitor | undefined;
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  if (sm === undefined || d === undefined) return [`no ServiceMonitor or no Deployment ${name}`];
  const pod = (d['spec'] as { template: PodTemplate }).template;
  const served = metricsContainer(pod);
  if (served === undefined) return [`${name}: no container port named metrics`];
  const { container, port } = served;
  const targets = scrapedTargets(objects, sm, pod);
  const annotated = String(pod.metadata.annotations?.['prometheus.io/port'] ?? 'absent');
  const bind = String(flagValue(container.args ?? [], '--metrics-bind') ?? 'absent');
  const checks: Array<[boolean, string]> = [
    [targets.includes(port), `no Service the ServiceMonitor selects has port ${String(sm.endpoints[0]?.port)} → ${port} to these pods (found ${JSON.stringify(targets)})`],
    [annotated === String(port), `prometheus.io/port is ${annotated}, not ${port}`],
    [bind === `0.0.0.0:${port}`, `--metrics-bind is ${bind}, not 0.0.0.0:${port}`],
  ];
  return checks.filter(([ok]) => !ok).map(([, why]) => `${name}: ${why}`);
}

/** Values and the Deployments whose /metrics the ServiceMonitor must scrape. */
const CASES: ReadonlyArray<[string, Record<string, unknown>, readonly string[]]> = [
  ['partner (defaults)', {}, ['threatmesh-operator', 'threatmesh-serve', 'threatmesh-enforcer', 'threatmesh-replica-api']],
  ['partner, replica API with its own Secret, 3 replicas', { replicaApi: { replicas: 3, tls: { certManager: false, existingSecret: 's', caBundle: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n' } } }, ['threatmesh-replica-api']],
  ['sequencer', { role: 'sequencer', partnerId: 'sequencer' }, ['threatmesh-sequencer']],
];

describe('the ServiceMonitor scrapes every metrics port', () => {
  for (const [what, overrides, deployments] of CASES) {
    const objects = objectsOf(overrides);
    for (const name of deployments) it(`${what}: ${name}`, () => assert.deepEqual(scrapeProblems(objects, name), []));
  }

  it('a replica API without its metrics Service port, annotation or flag is reported (the check can fail)', () => {
    const objects = objectsOf({});
    const mutate = (o: Manifest): Manifest => {
      if (o.metadata.name !== 'threatmesh-replica-api') return o;
      const copy = structuredClone(o);
      if (o.kind === 'Service') (copy['spec'] as { ports: Array<{ name: string }> }).ports = (copy['spec'] as { ports: Array<{ name: string }> }).ports.filter((p) => p.name !== 'metrics');
      if (o.kind === 'Deployment') {
        const t = (copy['spec'] as { template: PodTemplate }).template;
        delete t.metadata.annotations;
        const c = t.spec.containers[0];
        if (c?.args) c.args.splice(c.args.indexOf('--metrics-bind'), 2);
      }
      return copy;
    };
    const problems = scrapeProblems(objects.map(mutate), 'threatmesh-replica-api');
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /no Service the ServiceMonitor selects has port metrics → 8080.*\n.*prometheus\.io\/port is absent.*\n.*--metrics-bind is absent/);
  });
});
