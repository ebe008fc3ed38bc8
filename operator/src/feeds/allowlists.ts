/**
 * A Feed's extra allowlists: the ConfigMaps its `spec.allowlists` names (every key, or one key)
 * plus the namespace's default ConfigMap `threatmesh-allowlist` when it exists. Entries use the
 * `--allowlist-file` syntax (one per line, `#` comments, blank lines ignored); drops are
 * reported per ConfigMap as `allowlist:<name>`.
 */
import type { Feed, FeedAllowlist } from '../api/types.ts';
import { DEFAULT_ALLOWLIST_CONFIGMAP } from '../api/schemas/feed.ts';
import type { KubeReader } from '../runtime/client.ts';
import { CONFIGMAPS, type ConfigMap } from '../runtime/kinds.ts';
import { FeedError } from './types.ts';
import { parseListFile, type NamedAllowlist } from './warninglists.ts';

export { CONFIGMAPS };

type ConfigMapObject = ConfigMap;

/** The allowlist entries held by `cm` under `key`, or under every key (in key order) when `key` is undefined. */
export function configMapEntries(cm: ConfigMapObject, key: string | undefined, where: string): string[] {
  const data = cm.data ?? {};
  if (key === undefined) return Object.keys(data).sort().flatMap((k) => parseListFile(data[k] ?? ''));
  const text = data[key];
  if (text === undefined) throw new FeedError('bad-config', `allowlist ConfigMap ${where} has no key "${key}" (keys: ${Object.keys(data).sort().join(', ') || 'none'}): add the key or fix spec.allowlists`);
  return parseListFile(text);
}

/**
 * Reads the allowlists of `feed` from its namespace. A named ConfigMap or key that does not
 * exist is a `bad-config` FeedError naming it; the default ConfigMap is skipped when absent.
 */
export async function readFeedAllowlists(kube: KubeReader, feed: Feed): Promise<NamedAllowlist[]> {
  const ns = feed.metadata.namespace ?? 'default';
  const refs: readonly FeedAllowlist[] = feed.spec.allowlists ?? [];
  const out: NamedAllowlist[] = [];
  for (const { configMapRef: { name, key } } of refs) {
    const cm = await kube.get<ConfigMapObject>(CONFIGMAPS, name, ns);
    if (cm === undefined) throw new FeedError('bad-config', `allowlist ConfigMap ${ns}/${name} named in spec.allowlists does not exist: create it or remove it from the Feed`);
    out.push({ name: `allowlist:${name}`, entries: configMapEntries(cm, key, `${ns}/${name}`) });
  }
  if (!refs.some((r) => r.configMapRef.name === DEFAULT_ALLOWLIST_CONFIGMAP)) {
    const cm = await kube.get<ConfigMapObject>(CONFIGMAPS, DEFAULT_ALLOWLIST_CONFIGMAP, ns);
    if (cm !== undefined) out.push({ name: `allowlist:${DEFAULT_ALLOWLIST_CONFIGMAP}`, entries: configMapEntries(cm, undefined, `${ns}/${DEFAULT_ALLOWLIST_CONFIGMAP}`) });
  }
  return out;
}
