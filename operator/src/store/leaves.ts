/**
 * A partner's verified leaf hashes in MongoDB (`replica_leaves`): chunks of 1,024 hex hashes per
 * document, `_id` = chunk number (FerretDB finds documents by `_id` without scanning), so a million
 * entries take about a thousand documents. Written by the replica with each applied batch.
 */
import type { Collection, Db } from 'mongodb';
import type { LeafStore } from '../domain/stores.ts';

/** Collection name. */
export const REPLICA_LEAVES = 'replica_leaves';

/** Hashes per document. */
export const LEAF_CHUNK = 1024;

interface ChunkDoc {
  _id: number;
  hashes: string[];
}

/** The {@link LeafStore} of a partner over one database. */
export class MongoLeafStore implements LeafStore {
  readonly #col: Collection<ChunkDoc>;

  constructor(db: Db) {
    this.#col = db.collection<ChunkDoc>(REPLICA_LEAVES);
  }

  async size(): Promise<number> {
    const last = await this.#col.find({}).sort({ _id: -1 }).limit(1).next();
    return last === null ? 0 : last._id * LEAF_CHUNK + last.hashes.length;
  }

  async append(from: number, hashes: readonly string[]): Promise<void> {
    let at = from;
    let rest = [...hashes];
    while (rest.length > 0) {
      const chunk = Math.floor(at / LEAF_CHUNK);
      const offset = at % LEAF_CHUNK;
      const take = rest.slice(0, LEAF_CHUNK - offset);
      const existing = offset === 0 ? [] : ((await this.#col.findOne({ _id: chunk }))?.hashes ?? []);
      if (existing.length < offset) throw new Error(`replica_leaves has ${chunk * LEAF_CHUNK + existing.length} leaves; cannot store index ${at}`);
      await this.#col.replaceOne({ _id: chunk }, { hashes: [...existing.slice(0, offset), ...take] }, { upsert: true });
      at += take.length;
      rest = rest.slice(take.length);
    }
  }

  async range(from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    const out: string[] = [];
    const first = Math.floor(from / LEAF_CHUNK);
    const last = Math.floor((to - 1) / LEAF_CHUNK);
    for await (const doc of this.#col.find({ _id: { $gte: first, $lte: last } }).sort({ _id: 1 })) {
      const base = doc._id * LEAF_CHUNK;
      out.push(...doc.hashes.slice(Math.max(0, from - base), Math.max(0, to - base)));
    }
    if (out.length !== to - from) throw new Error(`replica_leaves holds ${out.length} of the leaves [${from}, ${to}); rebuild the replica (threatmesh replica rebuild)`);
    return out;
  }

  async clear(): Promise<void> {
    await this.#col.deleteMany({});
  }
}
