/**
 * A partner's verified leaf hashes in MongoDB (`replica_leaves`): chunks of 1,024 hashes per
 * document, `_id` = chunk number (FerretDB finds documents by `_id` without scanning), so a million
 * entries take about a thousand documents. Written by the replica with each applied batch: a batch
 * that starts a chunk inserts it, one that continues a chunk rewrites it. The hashes are kept as
 * one binary value (`h`, 32 bytes each): FerretDB converts one value where an array of 1,024 hex
 * strings cost it 1,024 (chunks written by earlier versions, `hashes`, are still read).
 */
import { Binary, MongoServerError, type Collection, type Db } from 'mongodb';
import type { LeafStore } from '../domain/stores.ts';

/** Collection name. */
export const REPLICA_LEAVES = 'replica_leaves';

/** Hashes per document. */
export const LEAF_CHUNK = 1024;

const HASH_BYTES = 32;
const DUPLICATE_KEY = 11000;

interface ChunkDoc {
  _id: number;
  /** The hashes, 32 bytes each (written now). */
  h?: Binary;
  /** The hashes as hex strings (written by earlier versions). */
  hashes?: string[];
}

/** The hex hashes of a chunk, either spelling. */
function hashesOf(doc: ChunkDoc | null): string[] {
  if (doc === null) return [];
  if (doc.h === undefined) return doc.hashes ?? [];
  const bytes = Buffer.from(doc.h.buffer);
  const out: string[] = [];
  for (let at = 0; at + HASH_BYTES <= bytes.length; at += HASH_BYTES) out.push(bytes.toString('hex', at, at + HASH_BYTES));
  return out;
}

function packed(hashes: readonly string[]): Binary {
  const bytes = Buffer.alloc(hashes.length * HASH_BYTES);
  hashes.forEach((hex, i) => {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`replica_leaves: leaf hash ${i} is not 64 lowercase hex digits`);
    bytes.write(hex, i * HASH_BYTES, 'hex');
  });
  return new Binary(bytes);
}

/** The {@link LeafStore} of a partner over one database. */
export class MongoLeafStore implements LeafStore {
  readonly #col: Collection<ChunkDoc>;

  constructor(db: Db) {
    this.#col = db.collection<ChunkDoc>(REPLICA_LEAVES);
  }

  async size(): Promise<number> {
    const last = await this.#col.find({}).sort({ _id: -1 }).limit(1).next();
    return last === null ? 0 : last._id * LEAF_CHUNK + hashesOf(last).length;
  }

  async append(from: number, hashes: readonly string[]): Promise<void> {
    let at = from;
    let rest = [...hashes];
    while (rest.length > 0) {
      const chunk = Math.floor(at / LEAF_CHUNK);
      const offset = at % LEAF_CHUNK;
      const take = rest.slice(0, LEAF_CHUNK - offset);
      await (offset === 0 ? this.#start(chunk, take) : this.#continue(chunk, offset, take));
      at += take.length;
      rest = rest.slice(take.length);
    }
  }

  // A new chunk is an insert (a fraction of an upsert's cost on FerretDB); a replayed batch finds it and rewrites it.
  async #start(chunk: number, take: readonly string[]): Promise<void> {
    const h = packed(take);
    await this.#col.insertOne({ _id: chunk, h }).catch(async (err: unknown) => {
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
      await this.#col.replaceOne({ _id: chunk }, { h });
    });
  }

  async #continue(chunk: number, offset: number, take: readonly string[]): Promise<void> {
    const existing = hashesOf(await this.#col.findOne({ _id: chunk }));
    if (existing.length < offset) throw new Error(`replica_leaves has ${chunk * LEAF_CHUNK + existing.length} leaves; cannot store index ${chunk * LEAF_CHUNK + offset}`);
    await this.#col.replaceOne({ _id: chunk }, { h: packed([...existing.slice(0, offset), ...take]) });
  }

  async range(from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    const out: string[] = [];
    const first = Math.floor(from / LEAF_CHUNK);
    const last = Math.floor((to - 1) / LEAF_CHUNK);
    for await (const doc of this.#col.find({ _id: { $gte: first, $lte: last } }).sort({ _id: 1 })) {
      const base = doc._id * LEAF_CHUNK;
      out.push(...hashesOf(doc).slice(Math.max(0, from - base), Math.max(0, to - base)));
    }
    if (out.length !== to - from) throw new Error(`replica_leaves holds ${out.length} of the leaves [${from}, ${to}); rebuild the replica (threatmesh replica rebuild)`);
    return out;
  }

  async clear(): Promise<void> {
    await this.#col.deleteMany({});
  }
}
