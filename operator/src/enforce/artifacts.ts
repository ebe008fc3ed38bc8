/**
 * From the enforced candidates to the entries every enforcement point writes, pure: one entry
 * per key (the highest-priority indicator names it), prefixes covered by a wider enforced prefix
 * and domains under an enforced parent dropped (they add nothing: a CIDR group denies the wider
 * prefix, map_dom matches the parent). A target with a limit keeps the most important entries
 * (higher confidence, then newer) and reports the rest as left out.
 */
import { parseCidr } from '../domain/ip.ts';
import { byPriority, type Candidate } from './select.ts';

/** One entry of an artifact: the key, the digest of the indicator behind it and its priority. */
export interface Entry {
  readonly key: string;
  readonly digest: string;
  readonly confidence: number;
  readonly logIndex: number;
}

/** The entries of every artifact (unordered: {@link takeLimited} orders only when a limit bites). */
export interface Artifacts {
  readonly cidrs: readonly Entry[];
  readonly domains: readonly Entry[];
  /** Entries dropped because a wider enforced prefix or parent domain covers them. */
  readonly covered: number;
}

interface Range6 {
  readonly c: Candidate;
  readonly start: bigint;
  readonly end: bigint;
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

/** IPv4 prefixes inside a wider one of the list, dropped; plain numbers (a million BigInts cost seconds). */
function collapse4(cands: readonly Candidate[], starts: readonly number[], ends: readonly number[]): Candidate[] {
  const order = Array.from(cands.keys()).sort((a, b) => (starts[a] ?? 0) - (starts[b] ?? 0) || (ends[b] ?? 0) - (ends[a] ?? 0));
  const out: Candidate[] = [];
  let coverEnd = -1;
  for (const i of order) {
    if ((starts[i] ?? 0) <= coverEnd) continue;
    coverEnd = ends[i] ?? 0;
    const c = cands[i];
    if (c) out.push(c);
  }
  return out;
}

function collapse6(ranges: Range6[]): Candidate[] {
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) || (a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  const out: Candidate[] = [];
  let coverEnd = -1n;
  for (const r of ranges) {
    if (r.start <= coverEnd) continue;
    coverEnd = r.end;
    out.push(r.c);
  }
  return out;
}

function range6(c: Candidate, groups: readonly number[], prefix: number): Range6 {
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  const size = 1n << BigInt(128 - prefix);
  const start = v & ~(size - 1n);
  return { c, start, end: start + size - 1n };
}

/** Drops prefixes inside a wider one of the list (never across address families). */
export function collapseCidrs(cands: readonly Candidate[]): Candidate[] {
  const v4: Candidate[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const v6: Range6[] = [];
  for (const c of cands) {
    const p = parseCidr(c.key);
    if (!p.ok) continue;
    if (p.family === 6) {
      v6.push(range6(c, p.groups, p.prefix));
      continue;
    }
    const size = 2 ** (32 - p.prefix);
    const start = Math.floor(p.address / size) * size;
    v4.push(c);
    starts.push(start);
    ends.push(start + size - 1);
  }
  return [...collapse4(v4, starts, ends), ...collapse6(v6)];
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

const toEntry = (c: Candidate): Entry => ({ key: c.key, digest: c.digest, confidence: c.confidence, logIndex: c.logIndex });

/** Builds the artifact entries from the enforced candidates. */
export function buildArtifacts(cands: readonly Candidate[]): Artifacts {
  const unique = bestPerKey(cands);
  const cidrIn = unique.filter((c) => c.kind === 'cidr');
  const domainIn = unique.filter((c) => c.kind === 'domain');
  const cidrs = collapseCidrs(cidrIn);
  const domains = collapseDomains(domainIn);
  return { cidrs: cidrs.map(toEntry), domains: domains.map(toEntry), covered: cidrIn.length - cidrs.length + domainIn.length - domains.length };
}

/** At most `limit` entries: all of them when they fit, else the highest-priority ones (higher confidence, then newer); and how many were left out. */
export function takeLimited(entries: readonly Entry[], limit: number): { readonly entries: readonly Entry[]; readonly leftOut: number } {
  if (entries.length <= limit) return { entries, leftOut: 0 };
  const kept = [...entries].sort(byPriority).slice(0, limit);
  return { entries: kept, leftOut: entries.length - limit };
}
