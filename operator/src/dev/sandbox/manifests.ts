/**
 * Reading a directory tree of YAML manifests (as `kubectl apply -R -f DIR` does) and deciding
 * which of them a sandbox without internet access can use: the Namespaces they need, and the
 * Feeds that would fetch from a remote host.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Feed } from '../../api/types.ts';
import { parseManifests } from '../../runtime/manifest.ts';
import type { KubeObject } from '../../runtime/types.ts';
import type { Namespace } from '../../runtime/kinds.ts';

/** One object read from a manifest file. */
export interface SourcedObject {
  readonly object: KubeObject;
  /** The file it came from, relative to the directory read. */
  readonly source: string;
}

/** Every object in `*.yaml` / `*.yml` files under `dir`, recursively, in file-name order. */
export async function readManifestDir(dir: string): Promise<SourcedObject[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name)).sort();
  const out: SourcedObject[] = [];
  for (const file of files) {
    const source = relative(dir, file);
    for (const object of parseManifests(await readFile(file, 'utf8'), source)) out.push({ object, source });
  }
  return out;
}

/** Namespace objects for every namespace the objects live in, except `default`. */
export function namespacesOf(objects: readonly KubeObject[]): Namespace[] {
  const names = new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined && n !== 'default'));
  return [...names].sort().map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

/** The remote URL a Feed would fetch from, or undefined when it reads from this machine (or is no Feed). */
export function remoteSource(obj: KubeObject): string | undefined {
  if (obj.kind !== 'Feed') return undefined;
  const spec = (obj as Feed).spec;
  const url = spec.url ?? spec.taxii?.discoveryUrl;
  if (url === undefined) return undefined;
  try {
    return LOOPBACK.test(new URL(url).hostname) ? undefined : url;
  } catch {
    return url;
  }
}
