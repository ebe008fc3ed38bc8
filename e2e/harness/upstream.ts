/**
 * Upstream CustomResourceDefinitions (Cilium, ...) from the shared folder beside the repository
 * (`shared/crds/<project>/`, see its README): never copied into this repository, read from there
 * and installed into the test's kube-apiserver so it validates generated objects against the
 * real schemas. THREATMESH_SHARED_DIR (passed in by the test) overrides the lookup.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';

const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The shared folder: `override`, or the nearest `shared/` holding crds/ above the repository. */
export function sharedDir(override?: string): string {
  const candidates = override ? [override] : [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared'), join(repoRoot, '..', '..', '..', 'shared')];
  const found = candidates.find((d) => existsSync(join(d, 'crds')));
  if (!found) throw new Error(`no shared/crds folder found (looked in ${candidates.join(', ')}): set THREATMESH_SHARED_DIR to the folder holding crds/`);
  return found;
}

/** Every CRD of one upstream project, e.g. `cilium`. */
export async function upstreamCrds(project: string, override?: string): Promise<KubeObject[]> {
  const dir = join(sharedDir(override), 'crds', project);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  const out: KubeObject[] = [];
  for (const f of files) out.push(...parseManifests(await readFile(join(dir, f), 'utf8'), f));
  return out;
}
