/** Manifests of this repository for tests: the YAML files directly in one of its folders. */
import { readdir, readFile } from 'node:fs/promises';
import { parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';

const root = new URL('../../', import.meta.url);

/** The objects of every `*.yaml` file directly in `dir` (relative to the repository root, e.g. "crds"), files in name order. */
export async function loadYamlDir(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(new URL(dir, root))).filter((f) => f.endsWith('.yaml')).sort();
  const out: KubeObject[] = [];
  for (const f of files) out.push(...parseManifests(await readFile(new URL(`${dir}/${f}`, root), 'utf8'), f));
  return out;
}
