/**
 * The HAProxy enforcement point of one policy: the hosts map (domains, matched with map_dom) and
 * the address map (IPs and CIDRs, matched with map_ip) on every configured runtime API. Each map
 * value is the first 16 hex digits of the indicator digest, so a deny can be traced to its
 * indicator in HAProxy's logs. LogOnly and a disabled target keep the maps empty. Each endpoint
 * is synced on every poll: `show map` is cheap, and it notices a restarted HAProxy (which
 * reloads the deployment's empty map files) within one poll.
 */
import type { ResolvedHaproxy } from '../api/enforcement.ts';
import { takeLimited, type Entry } from './artifacts.ts';
import { syncMap, type MapState } from './haproxy/maps.ts';
import type { RuntimeApi } from './haproxy/runtime.ts';
import type { EnforcementMetrics } from './metrics.ts';

/** The desired content of the two maps. */
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

const EMPTY: MapContent = { hosts: new Map(), ips: new Map(), leftOut: 0 };

/** The HAProxy address-map key of a CIDR: a bare address for a host route. */
export function ipKey(cidr: string): string {
  return cidr.endsWith('/32') || cidr.endsWith('/128') ? cidr.slice(0, cidr.lastIndexOf('/')) : cidr;
}

function toMap(entries: readonly Entry[], key: (k: string) => string): Map<string, string> {
  return new Map(entries.map((e) => [key(e.key), e.digest.slice(0, 16)]));
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

/** The HAProxy side of one policy; remembers each endpoint's map state between syncs. */
export class HaproxyTarget {
  readonly #connect: (address: string) => RuntimeApi;
  readonly #metrics: EnforcementMetrics;
  readonly #owner: string;
  readonly #deltaLimit: number;
  readonly #known = new Map<string, MapState>();
  #content: MapContent = EMPTY;

  constructor(connect: (address: string) => RuntimeApi, metrics: EnforcementMetrics, owner: string, deltaLimit: number) {
    this.#connect = connect;
    this.#metrics = metrics;
    this.#owner = owner;
    this.#deltaLimit = deltaLimit;
  }

  /** Sets the desired content (call when the artifacts changed; the same object is kept otherwise, so an unchanged sync costs one `show map`). */
  setContent(content: MapContent): void {
    this.#content = content;
  }

  async #syncOne(address: string, file: string, want: ReadonlyMap<string, string>): Promise<boolean> {
    const key = `${address} ${file}`;
    try {
      const r = await syncMap(this.#connect(address), file, want, this.#known.get(key), { deltaLimit: this.#deltaLimit });
      this.#known.set(key, r.state);
      return r.method !== 'unchanged';
    } catch (err) {
      this.#known.delete(key);
      throw err;
    }
  }

  /** Syncs both maps on every endpoint of `cfg` (empty maps when disabled or not enforcing). */
  async sync(cfg: ResolvedHaproxy, enforce: boolean): Promise<HaproxyOutcome> {
    const started = performance.now();
    const content = enforce ? this.#content : EMPTY;
    const errors: Array<{ address: string; message: string }> = [];
    let changed = 0;
    if (!cfg.enabled) {
      await this.#clearKnown();
      return { hosts: 0, ips: 0, leftOut: 0, errors, changed };
    }
    for (const address of cfg.runtimeApis) {
      try {
        const a = await this.#syncOne(address, cfg.hostsMap, content.hosts);
        const b = await this.#syncOne(address, cfg.ipsMap, content.ips);
        if (a || b) changed++;
      } catch (err) {
        errors.push({ address, message: err instanceof Error ? err.message : String(err) });
      }
    }
    this.#publish(cfg, content);
    if (changed > 0) this.#metrics.applySeconds.observe({ policy: this.#owner, target: 'haproxy' }, (performance.now() - started) / 1000);
    return { hosts: content.hosts.size, ips: content.ips.size, leftOut: content.leftOut, errors, changed };
  }

  #publish(cfg: ResolvedHaproxy, content: MapContent): void {
    this.#metrics.setArtifacts(this.#owner, 'haproxy', [{ name: cfg.hostsMap, entries: content.hosts.size }, { name: cfg.ipsMap, entries: content.ips.size }]);
    const demand = Math.max(content.hosts.size, content.ips.size) + content.leftOut;
    this.#metrics.setHeadroom(this.#owner, 'haproxy', 'haproxy_map_entries', demand, cfg.maxEntries);
    this.#metrics.leftOut.set({ policy: this.#owner, target: 'haproxy' }, content.leftOut);
  }

  /** Empties the maps on every endpoint of `cfg` and every endpoint written before (policy deleted); an HAProxy that is gone counts as empty. */
  async clear(cfg: ResolvedHaproxy): Promise<void> {
    const targets = new Set([...cfg.runtimeApis.flatMap((a) => [`${a} ${cfg.hostsMap}`, `${a} ${cfg.ipsMap}`]), ...this.#known.keys()]);
    for (const key of targets) await this.#clearOne(key);
    this.#metrics.setArtifacts(this.#owner, 'haproxy', []);
  }

  /** Empties the maps this target wrote before (HAProxy disabled in the policy). */
  async #clearKnown(): Promise<void> {
    for (const key of [...this.#known.keys()]) await this.#clearOne(key);
    this.#metrics.setArtifacts(this.#owner, 'haproxy', []);
  }

  async #clearOne(key: string): Promise<void> {
    const space = key.indexOf(' ');
    try {
      await this.#syncOne(key.slice(0, space), key.slice(space + 1), EMPTY.hosts);
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
}
