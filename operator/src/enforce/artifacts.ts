/**
 * From the enforced candidates to the entries every enforcement point writes, pure: one entry
 * per key (the highest-priority indicator names it), prefixes covered by a wider enforced prefix
 * and domains under an enforced parent dropped (they add nothing: a CIDR group denies the wider
 * prefix, map_dom matches the parent), then ordered by priority so that a target with a limit
 * keeps the most important entries and reports the rest as left out.
 */
import { parseCidr } from '../domain/ip.ts';
import { byPriority, type Candidate } from './select.ts';

/** One entry of an artifact: the key and the digest of the indicator behind it. */
export interface Entry {
  readonly key: string;
  readonly digest: string;
}

/** The entries of every artifact, each list in priority order. */
export interface Artifacts {
  readonly cidrs: readonly Entry[];
  readonly domains: readonly Entry[];
  /** Entries dropped because a wider enforced prefix or parent domain covers them. */
  readonly covered: number;
}

interface Range {
  readonly c: Candidate;
  readonly family: 4 | 6;
  readonly start: bigint;
  readonly end: bigint;
}

function rangeOf(c: Candidate): Range | undefined {
  const p = parseCidr(c.key);
  if (!p.ok) return undefined;
  if (p.family === 4) {
    const size = 1n << BigInt(32 - p.prefix);
    const start = BigInt(p.address) & ~(size - 1n);
    return { c, family: 4, start, end: start + size - 1n };
  }
  let v = 0n;
  for (const g of p.groups) v = (v << 16n) | BigInt(g);
  const size = 1n << BigInt(128 - p.prefix);
  const start = v & ~(size - 1n);
  return { c, family: 6, start, end: start + size - 1n };
}

/** The best candidate per key. */
function bestPerKey(cands: readonly Candidate[]): Candidate[] {
  const best = new Map<string, Candidate>();
  for (const c of cands) {
    const b = best.get(c.key);
    if (b === undefined || byPriority(c, b) < 0) best.set(c.key, c);
  }
  return [...best.values()];
}

/** Drops prefixes inside a wider one of the list. */
export function collapseCidrs(cands: readonly Candidate[]): Candidate[] {
  const ranges = cands.flatMap((c) => rangeOf(c) ?? []);
  ranges.sort((a, b) => a.family - b.family || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) || (a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  const out: Candidate[] = [];
  let family = 0;
  let coverEnd = -1n;
  for (const r of ranges) {
    if (r.family === family && r.start <= coverEnd) continue;
    family = r.family;
    coverEnd = r.end;
    out.push(r.c);
  }
  return out;
}

/** Drops domains whose parent domain is in the list. */
export function collapseDomains(cands: readonly Candidate[]): Candidate[] {
  const keys = new Set(cands.map((c) => c.key));
  return cands.filter((c) => {
    for (let dot = c.key.indexOf('.'); dot >= 0; dot = c.key.indexOf('.', dot + 1)) {
      if (keys.has(c.key.slice(dot + 1))) return false;
    }
    return true;
  });
}

const toEntry = (c: Candidate): Entry => ({ key: c.key, digest: c.digest });

/** Builds the artifact entries from the enforced candidates. */
export function buildArtifacts(cands: readonly Candidate[]): Artifacts {
  const unique = bestPerKey(cands);
  const cidrIn = unique.filter((c) => c.kind === 'cidr');
  const domainIn = unique.filter((c) => c.kind === 'domain');
  const cidrs = collapseCidrs(cidrIn).sort(byPriority);
  const domains = collapseDomains(domainIn).sort(byPriority);
  return { cidrs: cidrs.map(toEntry), domains: domains.map(toEntry), covered: cidrIn.length - cidrs.length + domainIn.length - domains.length };
}

/** The first `limit` entries of a priority-ordered list, sorted by key for writing, and how many were left out. */
export function takeLimited(entries: readonly Entry[], limit: number): { readonly entries: Entry[]; readonly leftOut: number } {
  const kept = entries.slice(0, limit).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { entries: kept, leftOut: Math.max(0, entries.length - limit) };
}
