/**
 * The TAXII collections of a partner: `all` (everything the consumer may read), one per TLP
 * level (`tlp-clear` … `tlp-red`) and one per source feed (`feed-<name>`). Ids are UUIDv5 of the
 * alias, so they are the same at every partner and across restarts; requests may name a
 * collection by id or alias. A consumer sees only collections with something at a TLP it may
 * receive: a TLP collection above its maximum and a feed whose indicators are all above it do
 * not exist for it (404), so not even a feed's name leaks. TLP collections accept POSTs from
 * contributors (proposals at that TLP).
 */
import { hash } from 'node:crypto';
import { STIX_ID_NAMESPACE, uuidV5 } from '../domain/stix.ts';
import type { Consumer } from './config.ts';
import { hasRole } from './auth.ts';
import type { IndicatorReader } from './record.ts';
import { TLP_LEVELS, type Tlp } from './tlp.ts';

/** One collection. */
export interface CollectionDef {
  readonly id: string;
  readonly alias: string;
  readonly title: string;
  readonly description: string;
  /** Levels the collection holds (before the consumer's maximum is applied). */
  readonly tlps: readonly Tlp[];
  /** Only indicators of this source feed. */
  readonly source?: string;
  /** The TLP of proposals POSTed here; undefined when the collection takes no POSTs. */
  readonly writeTlp?: Tlp;
}

/** A collection as one consumer sees it. */
export interface ConsumerCollection {
  readonly def: CollectionDef;
  /** The levels this consumer reads from it (never empty). */
  readonly tlps: readonly Tlp[];
  readonly canWrite: boolean;
}

/** The UUIDv5 id of the collection with alias `alias`. */
export function collectionId(alias: string): string {
  return uuidV5(STIX_ID_NAMESPACE, `taxii-collection:${alias}`);
}

function tlpAlias(t: Tlp): string {
  return `tlp-${t.replace('+', '-')}`;
}

/** The collections that always exist: `all` and one per TLP level. */
export function staticCollections(): CollectionDef[] {
  const all: CollectionDef = { id: collectionId('all'), alias: 'all', title: 'All indicators', description: 'Every indicator of the network at a TLP you may receive, in log order', tlps: TLP_LEVELS };
  return [all, ...TLP_LEVELS.map((t): CollectionDef => ({
    id: collectionId(tlpAlias(t)), alias: tlpAlias(t), title: `TLP:${t.toUpperCase()} indicators`,
    description: `Indicators marked TLP:${t.toUpperCase()}${t === 'clear' ? ' or unmarked' : ''}; contributors may POST indicators here to propose them to the network at this TLP`,
    tlps: [t], writeTlp: t,
  }))];
}

/** The collection of source feed `source` (alias `feed-<slug>-<hash>`, unique per source). */
export function feedCollection(source: string): CollectionDef {
  const slug = source.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'feed';
  const alias = `feed-${slug}-${hash('sha256', source, 'hex').slice(0, 6)}`;
  return { id: collectionId(alias), alias, title: `Feed ${source}`, description: `Indicators from source feed ${source}`, tlps: TLP_LEVELS, source };
}

/** Options of a {@link CollectionCatalog}. */
export interface CatalogOptions {
  readonly reader: IndicatorReader;
  /** How long a list of source feeds is reused, in ms. @default 10000 */
  readonly sourcesTtlMs?: number;
  readonly now?: () => number;
}

/** Resolves collections for consumers; caches the (database-derived) list of source feeds briefly. */
export class CollectionCatalog {
  readonly #o: CatalogOptions;
  readonly #static = staticCollections();
  readonly #cache = new Map<string, { at: number; defs: CollectionDef[] }>();

  constructor(opts: CatalogOptions) {
    this.#o = opts;
  }

  /** Every collection `consumer` may see, `all` and TLP collections first, then feeds by name. */
  async list(consumer: Consumer): Promise<ConsumerCollection[]> {
    const feeds = await this.#feeds(consumer);
    return [...this.#static, ...feeds].map((def) => this.#view(def, consumer)).filter((c): c is ConsumerCollection => c !== undefined);
  }

  /** The collection named `idOrAlias`, if `consumer` may see it. */
  async find(consumer: Consumer, idOrAlias: string): Promise<ConsumerCollection | undefined> {
    const def = this.#static.find((d) => d.id === idOrAlias || d.alias === idOrAlias) ?? (await this.#feeds(consumer)).find((d) => d.id === idOrAlias || d.alias === idOrAlias);
    return def === undefined ? undefined : this.#view(def, consumer);
  }

  #view(def: CollectionDef, consumer: Consumer): ConsumerCollection | undefined {
    const tlps = def.tlps.filter((t) => consumer.tlps.includes(t));
    if (tlps.length === 0) return undefined;
    return { def, tlps, canWrite: def.writeTlp !== undefined && hasRole(consumer, 'contributor') };
  }

  async #feeds(consumer: Consumer): Promise<CollectionDef[]> {
    const key = consumer.tlps.join(',');
    const now = (this.#o.now ?? Date.now)();
    const hit = this.#cache.get(key);
    if (hit !== undefined && now - hit.at < (this.#o.sourcesTtlMs ?? 10_000)) return hit.defs;
    const defs = (await this.#o.reader.sources(consumer.tlps)).map(feedCollection);
    this.#cache.set(key, { at: now, defs });
    return defs;
  }
}
