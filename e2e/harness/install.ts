/**
 * What the install tests share: the tool paths of scripts/tools.sh (installing on first use),
 * `helm template` of charts/threatmesh for a values object, the cdk8s app's objects for the same
 * values, a normalization for comparing the two, and kubeconform with the Kubernetes schemas of
 * kubernetes-validate plus JSON schemas converted from the upstream and ThreatMesh CRDs.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { renderInstall, type Manifest } from '../../cdk8s/app.ts';
import { UPSTREAM_CRDS, upstreamCrdDir } from '../../cdk8s/upstream.ts';
import type { Values } from '../../cdk8s/values.ts';

const run = promisify(execFile);

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Paths printed by `scripts/tools.sh`. */
export interface Tools {
  readonly KUBECONFORM: string;
  readonly HELM: string;
  readonly K8S_SCHEMAS: string;
  readonly HAPROXY: string;
  readonly PROMTOOL: string;
  readonly CILIUMCHECK: string;
}

/** Installs what is missing (cached) and returns the tool paths. */
export async function tools(): Promise<Tools> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/tools.sh'), 'install'], { maxBuffer: 16 << 20, timeout: 1_800_000 });
  return Object.fromEntries(stdout.trim().split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) as unknown as Tools;
}

/** Parses a YAML stream into its non-empty documents. */
export function parseStream(text: string): Manifest[] {
  return parseAllDocuments(text).map((d): Manifest | null => d.toJS() as Manifest | null).filter((d): d is Manifest => d !== null && typeof d === 'object');
}

/** `helm template` of the chart with `values` (a values file is written to a temp folder). */
export async function helmTemplate(t: Tools, values: unknown): Promise<Manifest[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tm-helm-'));
  await writeFile(join(dir, 'values.yaml'), stringify(values ?? {}));
  const { stdout } = await run(t.HELM, ['template', 'threatmesh', join(ROOT, 'charts/threatmesh'), '-f', join(dir, 'values.yaml')], { maxBuffer: 64 << 20 });
  return parseStream(stdout);
}

/** Every object of the cdk8s app for `values`, components flattened. */
export function cdk8sObjects(values: Values): Manifest[] {
  return renderInstall(values).flatMap((c) => c.objects);
}

const key = (o: Manifest): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const sortRules = (rules: unknown): unknown => (Array.isArray(rules) ? [...(rules as unknown[])].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) : rules);

/** Objects keyed by kind/namespace/name; Cilium rule lists sorted (their order has no meaning). */
export function byKey(objects: readonly Manifest[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const o of objects) {
    let n: Manifest = JSON.parse(JSON.stringify(o)) as Manifest;
    if (n.kind === 'CiliumNetworkPolicy') {
      const spec = n['spec'] as Record<string, unknown>;
      n = { ...n, spec: { ...spec, ...(spec['ingress'] ? { ingress: sortRules(spec['ingress']) } : {}), ...(spec['egress'] ? { egress: sortRules(spec['egress']) } : {}) } };
    }
    out.set(key(n), n);
  }
  return out;
}

/** JSON schema of a CRD version for kubeconform -strict: typed objects with listed fields are closed (anyOf/oneOf branches stay as they are). */
function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema);
  if (typeof node !== 'object' || node === null) return node;
  const n = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strictSchema(s)])) : strictSchema(v)])) as Record<string, unknown>;
  if (n['type'] === 'object' && n['properties'] && n['additionalProperties'] === undefined && n['x-kubernetes-preserve-unknown-fields'] !== true) n['additionalProperties'] = false;
  return n;
}

/** Writes `<group>/<kind>_<version>.json` for every CRD given (YAML texts); returns the folder. */
export async function crdSchemas(crdTexts: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tm-crd-schemas-'));
  for (const text of crdTexts) {
    for (const crd of parseStream(text)) {
      const spec = crd['spec'] as { group: string; names: { kind: string }; versions: Array<{ name: string; schema?: { openAPIV3Schema?: unknown } }> };
      await mkdir(join(dir, spec.group), { recursive: true });
      for (const v of spec.versions) {
        await writeFile(join(dir, spec.group, `${spec.names.kind.toLowerCase()}_${v.name}.json`), JSON.stringify(strictSchema(v.schema?.openAPIV3Schema ?? {})));
      }
    }
  }
  return dir;
}

/** The upstream CRD texts (shared/crds) and ThreatMesh's own (crds/). */
export async function allCrdTexts(): Promise<string[]> {
  const up = upstreamCrdDir(ROOT);
  const own = (await readdir(join(ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'crds', f));
  return Promise.all([...UPSTREAM_CRDS.map((c) => join(up, c.file)), ...own].map((f) => readFile(f, 'utf8')));
}

/** Kubernetes version of the JSON schemas (the local control plane's). */
export const K8S_SCHEMA_VERSION = 'v1.36.0';

/**
 * The strict Kubernetes schemas of kubernetes-validate with their `/api/_definitions.json`
 * references made file URLs, which kubeconform resolves; written into `schemasDir`/k8s.
 */
async function k8sSchemas(t: Tools, schemasDir: string): Promise<string> {
  const out = join(schemasDir, 'k8s');
  const src = join(t.K8S_SCHEMAS, `${K8S_SCHEMA_VERSION}-local-strict`);
  if ((await readdir(out).catch(() => [])).length > 0) return out;
  await mkdir(out, { recursive: true });
  for (const f of await readdir(src)) {
    const text = await readFile(join(src, f), 'utf8');
    await writeFile(join(out, f), text.replaceAll('"/api/_definitions.json#', `"file://${out}/_definitions.json#`));
  }
  return out;
}

/** kubeconform -strict of `objects`; resolves with its output, rejects with the failures. */
export async function kubeconform(t: Tools, schemasDir: string, objects: readonly Manifest[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tm-kubeconform-'));
  await writeFile(join(dir, 'all.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  const k8s = await k8sSchemas(t, schemasDir);
  try {
    const { stdout } = await run(t.KUBECONFORM, ['-strict', '-summary', '-schema-location', `${k8s}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      '-schema-location', `${schemasDir}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`, join(dir, 'all.yaml')], { maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`kubeconform failed:\n${(e.stdout ?? '').slice(0, 4000)}${e.stderr ?? ''}`, { cause: err });
  }
}
