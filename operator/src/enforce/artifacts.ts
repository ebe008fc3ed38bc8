/**
 * The entries every enforcement point writes, kept incrementally: one entry per key (a CIDR or a
 * domain), named by the highest-priority indicator enforced under that key. The index is built
 * once from the whole selection and then follows the selection's changes, remembering which
 * keys changed so each target rewrites only what they touch (one CIDR group shard, a few map
 * keys) instead of rebuilding a million entries per admission. Overlapping entries (a /32 inside
 * an enforced /24, a subdomain of an enforced domain) are kept: they are harmless to Cilium and
 * HAProxy, and dropping them would make every change depend on its neighbours.
 */
import { byPriority, type Candidate } from './select.ts';
import type { Change } from './selection.ts';

/** The two kinds of artifact key. */
export type EntryKind = Candidate['kind'];

/** One entry of an artifact: the key, the digest of the indicator behind it and its priority. */
export interface Entry {
  readonly key: string;
  readonly digest: string;
  readonly confidence: number;
  readonly logIndex: number;
}

const toEntry = (c: Candidate): Entry => ({ key: c.key, digest: c.digest, confidence: c.confidence, logIndex: c.logIndex });

/** Every enforced candidate grouped by kind and key, with the keys changed since the last `takeDirty`. */
export class ArtifactIndex {
  readonly #keys: Record<EntryKind, Map<string, Candidate[]>> = { cidr: new Map(), domain: new Map() };
  readonly #dirty: Record<EntryKind, Set<string>> = { cidr: new Set(), domain: new Set() };

  /** The index of `cands`, with nothing dirty. */
  static from(cands: Iterable<Candidate>): ArtifactIndex {
    const x = new ArtifactIndex();
    for (const c of cands) x.#add(c);
    x.#dirty.cidr.clear();
    x.#dirty.domain.clear();
    return x;
  }

  /** Follows changes of the enforced set (Selection.takeChanges). */
  apply(changes: readonly Change[]): void {
    for (const ch of changes) {
      if (ch.before) this.#remove(ch.before);
      if (ch.after) this.#add(ch.after);
    }
  }

  #add(c: Candidate): void {
    const map = this.#keys[c.kind];
    const list = map.get(c.key);
    if (list) list.push(c);
    else map.set(c.key, [c]);
    this.#dirty[c.kind].add(c.key);
  }

  #remove(c: Candidate): void {
    const map = this.#keys[c.kind];
    const rest = (map.get(c.key) ?? []).filter((x) => x.digest !== c.digest);
    if (rest.length > 0) map.set(c.key, rest);
    else map.delete(c.key);
    this.#dirty[c.kind].add(c.key);
  }

  /** The entry of `key`, or undefined when nothing is enforced under it. */
  entry(kind: EntryKind, key: string): Entry | undefined {
    const list = this.#keys[kind].get(key);
    if (!list || list.length === 0) return undefined;
    let best = list[0] as Candidate;
    for (const c of list) if (byPriority(c, best) < 0) best = c;
    return toEntry(best);
  }

  /** Every entry of `kind` (unordered). */
  entries(kind: EntryKind): Entry[] {
    const out: Entry[] = [];
    for (const key of this.#keys[kind].keys()) {
      const e = this.entry(kind, key);
      if (e) out.push(e);
    }
    return out;
  }

  /** Number of keys of `kind`. */
  size(kind: EntryKind): number {
    return this.#keys[kind].size;
  }

  /** The keys of `kind` whose entry may have changed since the last call, then forgets them. */
  takeDirty(kind: EntryKind): string[] {
    const keys = [...this.#dirty[kind]];
    this.#dirty[kind].clear();
    return keys;
  }
}

/** At most `limit` entries: all of them when they fit, else the highest-priority ones (higher confidence, then newer); and how many were left out. */
export function takeLimited(entries: readonly Entry[], limit: number): { readonly entries: readonly Entry[]; readonly leftOut: number } {
  if (entries.length <= limit) return { entries, leftOut: 0 };
  const kept = [...entries].sort(byPriority).slice(0, limit);
  return { entries: kept, leftOut: entries.length - limit };
}
