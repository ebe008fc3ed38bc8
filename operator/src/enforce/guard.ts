/**
 * The never-block guard of enforcement: the feeds' warning lists (reserved and private ranges,
 * public resolvers, special-use and top domains) plus the partner's own allowlists, which
 * always win over network decisions. Built on feeds/warninglists.ts, with one rule more for
 * domains: HAProxy's map_dom matches a key anywhere between dots of the host, so a denied
 * `co.uk` would also refuse `bbc.co.uk`. A domain indicator is therefore refused when it is, lies
 * under, or is any dot-delimited part of a protected domain.
 */
import { detectType, normalize, type Indicator } from '../domain/indicator.ts';
import { buildWarningList, type NamedAllowlist, type WarningListData, type WarningListName } from '../feeds/warninglists.ts';

/** Why an indicator must not be enforced, or undefined when it may be. */
export interface Guard {
  check(ind: Indicator): WarningListName | undefined;
}

/** The allowlist name the policy's own `spec.allowlist` entries are reported under. */
export const POLICY_ALLOWLIST: WarningListName = 'allowlist:policy';

/** Every contiguous run of labels of `domain` (for `a.b.c`: a, b, c, a.b, b.c, a.b.c). */
export function domainParts(domain: string): string[] {
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j <= labels.length; j++) out.push(labels.slice(i, j).join('.'));
  }
  return out;
}

/** The normalized domain an allowlist entry names, or undefined for an address, network or other value. */
function domainOf(raw: string): string | undefined {
  if (detectType(raw) !== 'domain') return undefined;
  const r = normalize('domain', raw);
  return r.ok ? r.indicator.value : undefined;
}

/**
 * Builds the guard. `shipped` are the feeds' lists; `allowLists` the partner's (spec.allowlist
 * as `allowlist:policy`, each ConfigMap as `allowlist:<name>`). Throws FeedError naming the list
 * on an entry that is no IP, CIDR or domain.
 */
export function buildGuard(shipped: WarningListData, allowLists: readonly NamedAllowlist[]): Guard {
  const lists = buildWarningList({ ...shipped, allowLists });
  const parts = new Map<string, WarningListName>();
  const protect = (domains: readonly string[], name: WarningListName): void => {
    for (const d of domains) {
      for (const p of domainParts(d.toLowerCase().replace(/\.$/, ''))) if (!parts.has(p)) parts.set(p, name);
    }
  };
  protect(shipped.specialDomains, 'special-domain');
  protect(shipped.topDomains, 'top-domain');
  for (const l of allowLists) protect(l.entries.flatMap((e) => domainOf(e) ?? []), l.name);
  return {
    check(ind: Indicator): WarningListName | undefined {
      const hit = lists.match(ind);
      if (hit !== undefined || ind.type !== 'domain') return hit;
      return parts.get(ind.value);
    },
  };
}
