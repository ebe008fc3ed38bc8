/**
 * The HAProxy enforcement point of one policy: the hosts map (domains, matched with map_dom) and
 * the address map (IPs and CIDRs, matched with map_ip) on every configured runtime API. Each map
 * value is the first 16 hex digits of the indicator digest, so a deny can be traced to its
 * indicator in HAProxy's logs. LogOnly and a disabled target keep the maps empty.
 *
 * The desired maps follow the index key by key; every endpoint map collects the key changes
 * since its last successful sync and sends them as a delta (or a swap when HAProxy's map is not
 * what this process last wrote). Each endpoint is checked on every poll: `show map` is cheap, and
 * it notices a restarted HAProxy (which reloads the deployment's empty map files) within one poll.
 */
import type { ResolvedHaproxy } from '../api/enforcement.ts';
import { takeLimited, type ArtifactIndex, type Entry, type EntryKind } from './artifacts.ts';
import { syncMap, type KeyChange, type MapState } from './haproxy/maps.ts';
import type { RuntimeApi } from './haproxy/runtime.ts';
import type { EnforcementMetrics } from './metrics.ts';

/** The content of the two maps, within the limit. */
export interface MapContent {
  readonly hosts: ReadonlyMap<string, string>;
  readonly ips: ReadonlyMap<string, string>;
  readonly leftOut: number;
}

/** What the HAProxy side did on one sync. */
export interface HaproxyOutcome {
  readonly hosts: number;
  readonly ips: number;
  readonly leftOut: number;
  /** Endpoints that failed, with the reason; the others are in sync. */
  readonly errors: ReadonlyArray<{ readonly address: string; readonly message: string }>;
  /** Endpoints whose maps changed. */
  readonly changed: number;
}

/** The HAProxy address-map key of a CIDR: a bare address for a host route. */
export function ipKey(cidr: string): string {
  return cidr.endsWith('/32') || cidr.endsWith('/128') ? cidr.slice(0, cidr.lastIndexOf('/')) : cidr;
}

const value = (e: Entry): string => e.digest.slice(0, 16);

function toMap(entries: readonly Entry[], key: (k: string) => string): Map<string, string> {
  return new Map(entries.map((e) => [key(e.key), value(e)]));
}

/** The map content for the entries within the limit (pure). */
export function mapContent(domains: readonly Entry[], cidrs: readonly Entry[], maxEntries: number): MapContent {
  const hosts = takeLimited(domains, maxEntries);
  const ips = takeLimited(cidrs, maxEntries);
  return { hosts: toMap(hosts.entries, (k) => k), ips: toMap(ips.entries, ipKey), leftOut: hosts.leftOut + ips.leftOut };
}

/** Connection failures after which HAProxy, when it comes back, starts from its map files: nothing of ours is left to remove. */
function isGone(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT';
}

type Which = 'hosts' | 'ips';

interface EndpointMap {
  readonly address: string;
  readonly which: Which;
  readonly file: string;
  state: MapState | undefined;
  pending: Map<string, KeyChange>;
}

const EMPTY: ReadonlyMap<string, string> = new Map();

/** The HAProxy side of one policy; remembers each endpoint map's state and pending changes between syncs. */
export class HaproxyTarget {
  readonly #connect: (address: string) => RuntimeApi;
  readonly #metrics: EnforcementMetrics;
  readonly #owner: string;
  readonly #deltaLimit: number;
  /** Per `<address> <file>`. */
  readonly #endpoints = new Map<string, EndpointMap>();
  readonly #desired: Record<Which, Map<string, string>> = { hosts: new Map(), ips: new Map() };
  #leftOut = 0;
  #limited = false;

  constructor(connect: (address: string) => RuntimeApi, metrics: EnforcementMetrics, owner: string, deltaLimit: number) {
    this.#connect = connect;
    this.#metrics = metrics;
    this.#owner = owner;
    this.#deltaLimit = deltaLimit;
  }

  #setKey(which: Which, key: string, v: string | undefined): void {
    const map = this.#desired[which];
    const before = map.get(key);
    if (before === v) return;
    if (v === undefined) map.delete(key);
    else map.set(key, v);
    for (const ep of this.#endpoints.values()) {
      if (ep.which !== which) continue;
      const prev = ep.pending.get(key);
      ep.pending.set(key, { before: prev ? prev.before : before, after: v });
    }
  }

  #replace(content: MapContent): void {
    for (const which of ['hosts', 'ips'] as const) {
      const next = content[which];
      for (const k of [...this.#desired[which].keys()]) if (!next.has(k)) this.#setKey(which, k, undefined);
      for (const [k, v] of next) this.#setKey(which, k, v);
    }
    this.#leftOut = content.leftOut;
  }

  /**
   * Follows the index: `dirty` keys per kind changed since the last call, or 'all' (rebuilt from
   * every entry). Over the policy's limit, or when `enforce` is false (empty maps), the whole
   * content is rebuilt; the pending changes are the difference either way.
   */
  follow(index: ArtifactIndex, dirty: Record<EntryKind, readonly string[]> | 'all', cfg: ResolvedHaproxy, enforce: boolean): void {
    if (!enforce || !cfg.enabled) return this.#replace({ hosts: EMPTY, ips: EMPTY, leftOut: 0 });
    const over = index.size('domain') > cfg.maxEntries || index.size('cidr') > cfg.maxEntries;
    if (dirty !== 'all' && dirty.cidr.length === 0 && dirty.domain.length === 0 && over === this.#limited) return;
    if (dirty === 'all' || over || this.#limited) {
      this.#limited = over;
      return this.#replace(mapContent(index.entries('domain'), index.entries('cidr'), cfg.maxEntries));
    }
    for (const k of dirty.domain) {
      const e = index.entry('domain', k);
      this.#setKey('hosts', k, e && value(e));
    }
    for (const k of dirty.cidr) {
      const e = index.entry('cidr', k);
      this.#setKey('ips', ipKey(k), e && value(e));
    }
  }

  /** Syncs one endpoint map to `desired` (the policy's content, or empty for a map no longer configured). */
  async #syncOne(ep: EndpointMap, desired: ReadonlyMap<string, string>): Promise<boolean> {
    try {
      const r = await syncMap(this.#connect(ep.address), ep.file, desired, { known: ep.state, pending: ep.pending }, { deltaLimit: this.#deltaLimit });
      ep.state = r.state;
      ep.pending.clear();
      return r.method !== 'unchanged';
    } catch (err) {
      ep.state = undefined;
      ep.pending.clear();
      throw err;
    }
  }

  /** The endpoint maps `cfg` names (created on first use). */
  #wanted(cfg: ResolvedHaproxy): EndpointMap[] {
    if (!cfg.enabled) return [];
    const out: EndpointMap[] = [];
    for (const address of cfg.runtimeApis) {
      for (const [which, file] of [['hosts', cfg.hostsMap], ['ips', cfg.ipsMap]] as const) {
        const id = `${address} ${file}`;
        let ep = this.#endpoints.get(id);
        if (!ep) {
          ep = { address, which, file, state: undefined, pending: new Map() };
          this.#endpoints.set(id, ep);
        }
        out.push(ep);
      }
    }
    return out;
  }

  /** Empties endpoint maps no longer configured (a disabled target, a changed address or file), then forgets them. */
  async #retire(wanted: readonly EndpointMap[], errors: Array<{ address: string; message: string }>): Promise<number> {
    let changed = 0;
    for (const [id, ep] of [...this.#endpoints]) {
      if (wanted.includes(ep)) continue;
      try {
        ep.state = undefined;
        if (await this.#syncOne(ep, EMPTY)) changed++;
        this.#endpoints.delete(id);
      } catch (err) {
        if (isGone(err)) this.#endpoints.delete(id);
        else errors.push({ address: ep.address, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return changed;
  }

  /** Syncs every configured endpoint map, and empties the ones no longer configured. */
  async sync(cfg: ResolvedHaproxy): Promise<HaproxyOutcome> {
    const started = performance.now();
    const errors: Array<{ address: string; message: string }> = [];
    const wanted = this.#wanted(cfg);
    const failed = new Set<string>();
    let changed = await this.#retire(wanted, errors);
    for (const ep of wanted) {
      if (failed.has(ep.address)) continue;
      try {
        if (await this.#syncOne(ep, this.#desired[ep.which])) changed++;
      } catch (err) {
        failed.add(ep.address);
        errors.push({ address: ep.address, message: err instanceof Error ? err.message : String(err) });
      }
    }
    this.#publish(cfg);
    if (changed > 0) this.#metrics.applySeconds.observe({ policy: this.#owner, target: 'haproxy' }, (performance.now() - started) / 1000);
    return { hosts: this.#desired.hosts.size, ips: this.#desired.ips.size, leftOut: this.#leftOut, errors, changed };
  }

  #publish(cfg: ResolvedHaproxy): void {
    if (!cfg.enabled) return this.#metrics.setArtifacts(this.#owner, 'haproxy', []);
    this.#metrics.setArtifacts(this.#owner, 'haproxy', [{ name: cfg.hostsMap, entries: this.#desired.hosts.size }, { name: cfg.ipsMap, entries: this.#desired.ips.size }]);
    const demand = Math.max(this.#desired.hosts.size, this.#desired.ips.size) + this.#leftOut;
    this.#metrics.setHeadroom(this.#owner, 'haproxy', 'haproxy_map_entries', demand, cfg.maxEntries);
    this.#metrics.leftOut.set({ policy: this.#owner, target: 'haproxy' }, this.#leftOut);
  }

  /** Empties the maps on every endpoint of `cfg` and every endpoint written before (policy deleted); an HAProxy that is gone counts as empty. */
  async clear(cfg: ResolvedHaproxy): Promise<void> {
    this.#replace({ hosts: EMPTY, ips: EMPTY, leftOut: 0 });
    for (const ep of [...this.#wanted(cfg), ...this.#endpoints.values()]) {
      try {
        ep.state = undefined;
        await this.#syncOne(ep, EMPTY);
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
    this.#endpoints.clear();
    this.#metrics.setArtifacts(this.#owner, 'haproxy', []);
  }
}
