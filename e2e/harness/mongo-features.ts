/**
 * Probes which MongoDB features a server really supports, by trying each against a scratch
 * collection. FerretDB implements a subset of MongoDB; ThreatMesh must stay inside what both
 * support or gate the rest on a probe like this one. Run directly to print a table:
 *   node e2e/harness/mongo-features.ts mongodb://127.0.0.1:PORT/
 */
import { MongoClient, type Db } from 'mongodb';

/** One probe: resolves true when the server did what MongoDB would, false or throws otherwise. */
type Probe = (db: Db) => Promise<boolean>;

const seed = async (db: Db, name: string): Promise<ReturnType<Db['collection']>> => {
  const c = db.collection(name);
  await c.deleteMany({});
  await c.insertMany([
    { k: 'a', n: 1, tags: ['x', 'y'], at: new Date() },
    { k: 'b', n: 2, tags: ['y'], at: new Date() },
    { k: 'a', n: 3, tags: [], at: new Date() },
  ]);
  return c;
};

const stage = (s: Record<string, unknown>): Probe => async (db) => {
  const c = await seed(db, 'probe_stage');
  await c.aggregate([s]).toArray();
  return true;
};

/** Feature name → probe. Core features ThreatMesh relies on come first. */
export const mongoFeatureProbes: Readonly<Record<string, Probe>> = {
  'core: insert/find/sort/projection': async (db) => (await (await seed(db, 'probe_core')).find({ k: 'a' }, { projection: { n: 1 } }).sort({ n: -1 }).toArray()).length === 2,
  'core: unique index': async (db) => { await (await seed(db, 'probe_uidx')).createIndex({ n: 1 }, { unique: true }); return true; },
  'core: compound index': async (db) => { await (await seed(db, 'probe_cidx')).createIndex({ k: 1, n: -1 }); return true; },
  'core: updateOne $set/$inc/$addToSet, upsert': async (db) => {
    const c = await seed(db, 'probe_upd');
    await c.updateOne({ k: 'z' }, { $set: { n: 9 }, $inc: { m: 1 }, $addToSet: { tags: 'q' } }, { upsert: true });
    return (await c.countDocuments({ k: 'z', m: 1, tags: 'q' })) === 1;
  },
  'core: findOneAndUpdate': async (db) => (await (await seed(db, 'probe_fau')).findOneAndUpdate({ k: 'b' }, { $set: { n: 5 } }, { returnDocument: 'after' }))?.['n'] === 5,
  'core: bulkWrite (ordered=false)': async (db) => (await (await seed(db, 'probe_bulk')).bulkWrite([{ insertOne: { document: { k: 'c' } } }, { deleteOne: { filter: { k: 'b' } } }], { ordered: false })).insertedCount === 1,
  'core: aggregate $match/$group($sum)/$sort/$limit/$project/$count': async (db) => {
    const c = await seed(db, 'probe_agg');
    const r = await c.aggregate([{ $match: { n: { $gte: 1 } } }, { $group: { _id: '$k', t: { $sum: '$n' } } }, { $sort: { _id: 1 } }, { $limit: 5 }, { $project: { t: 1 } }]).toArray();
    const n = await c.aggregate([{ $match: { k: 'a' } }, { $count: 'n' }]).toArray();
    return JSON.stringify(r) === JSON.stringify([{ _id: 'a', t: 4 }, { _id: 'b', t: 2 }]) && n[0]?.['n'] === 2;
  },
  'core: distinct, countDocuments, estimatedDocumentCount': async (db) => {
    const c = await seed(db, 'probe_cnt');
    return (await c.distinct('k')).length === 2 && (await c.countDocuments({})) === 3 && (await c.estimatedDocumentCount()) === 3;
  },
  '$unwind keeps the other fields': async (db) => {
    const r = await (await seed(db, 'probe_unwind')).aggregate([{ $match: { k: 'b' } }, { $unwind: '$tags' }, { $project: { _id: 0, k: 1, tags: 1 } }]).toArray();
    return JSON.stringify(r) === JSON.stringify([{ k: 'b', tags: 'y' }]);
  },
  '$unwind of a nested array, then $group by it': async (db) => {
    const c = db.collection('probe_unwind_nested');
    await c.deleteMany({});
    await c.insertMany([{ m: { l: ['x', 'y'] } }, { m: { l: ['x'] } }]);
    const r = await c.aggregate([{ $unwind: '$m.l' }, { $group: { _id: '$m.l', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray();
    return JSON.stringify(r) === JSON.stringify([{ _id: 'x', n: 2 }, { _id: 'y', n: 1 }]);
  },
  '$project with a field path expression': async (db) => {
    const r = await (await seed(db, 'probe_proj_path')).aggregate([{ $match: { k: 'b' } }, { $project: { _id: 0, copy: '$n' } }]).toArray();
    return JSON.stringify(r) === JSON.stringify([{ copy: 2 }]);
  },
  '$group with two accumulators': async (db) => {
    const r = await (await seed(db, 'probe_two_acc')).aggregate([{ $group: { _id: '$k', n: { $sum: 1 }, t: { $sum: '$n' } } }, { $sort: { _id: 1 } }]).toArray();
    return JSON.stringify(r) === JSON.stringify([{ _id: 'a', n: 2, t: 4 }, { _id: 'b', n: 1, t: 2 }]);
  },
  '$group accumulator $max/$min': stage({ $group: { _id: '$k', a: { $max: '$n' }, b: { $min: '$n' } } }),
  '$group accumulators $avg/$push/$addToSet/$first/$last': stage({ $group: { _id: '$k', a: { $avg: '$n' }, p: { $push: '$n' }, s: { $addToSet: '$n' }, f: { $first: '$n' }, l: { $last: '$n' } } }),
  '$lookup': stage({ $lookup: { from: 'probe_stage', localField: 'k', foreignField: 'k', as: 'j' } }),
  '$facet': stage({ $facet: { a: [{ $match: { k: 'a' } }] } }),
  '$bucket': stage({ $bucket: { groupBy: '$n', boundaries: [0, 2, 10] } }),
  '$sortByCount': stage({ $sortByCount: '$k' }),
  '$replaceRoot': stage({ $replaceRoot: { newRoot: { x: '$k' } } }),
  '$addFields/$set': stage({ $addFields: { z: 1 } }),
  '$unionWith': stage({ $unionWith: 'probe_stage' }),
  '$out': stage({ $out: 'probe_out' }),
  '$merge': stage({ $merge: { into: 'probe_merge' } }),
  '$dateTrunc (date expressions in $group)': stage({ $group: { _id: { $dateTrunc: { date: '$at', unit: 'week' } }, n: { $sum: 1 } } }),
  'find with $expr': async (db) => { await (await seed(db, 'probe_expr')).find({ $expr: { $gt: ['$n', 1] } }).toArray(); return true; },
  'find with $elemMatch/$regex': async (db) => (await (await seed(db, 'probe_q')).find({ tags: { $elemMatch: { $eq: 'x' } }, k: { $regex: '^a' } }).toArray()).length === 1,
  'positional update (tags.$)': async (db) => { await (await seed(db, 'probe_pos')).updateOne({ tags: 'y' }, { $set: { 'tags.$': 'w' } }); return true; },
  'TTL index (expireAfterSeconds)': async (db) => { await (await seed(db, 'probe_ttl')).createIndex({ at: 1 }, { expireAfterSeconds: 3600 }); return true; },
  'partial index': async (db) => { await (await seed(db, 'probe_pidx')).createIndex({ n: 1 }, { partialFilterExpression: { n: { $gt: 1 } } }); return true; },
  'text index + $text': async (db) => { const c = await seed(db, 'probe_text'); await c.createIndex({ k: 'text' }); await c.find({ $text: { $search: 'a' } }).toArray(); return true; },
  'collation': async (db) => { await (await seed(db, 'probe_coll')).find({ k: 'A' }, { collation: { locale: 'en', strength: 2 } }).toArray(); return true; },
  'multi-document transactions (abort really undoes)': async (db) => {
    const c = await seed(db, 'probe_txn');
    const session = db.client.startSession();
    try {
      session.startTransaction();
      await c.insertOne({ k: 'txn' }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    return (await c.countDocuments({ k: 'txn' })) === 0;
  },
  'change streams (watch)': async (db) => {
    const stream = (await seed(db, 'probe_cs')).watch([], { maxAwaitTimeMS: 500 });
    try {
      await stream.tryNext();
      return true;
    } finally {
      await stream.close();
    }
  },
};

/** Runs every probe against `db` (drop it afterwards); maps feature to supported or the error text. */
export async function probeMongoFeatures(db: Db): Promise<Record<string, true | string>> {
  const out: Record<string, true | string> = {};
  for (const [name, probe] of Object.entries(mongoFeatureProbes)) {
    try {
      out[name] = (await probe(db)) ? true : 'ran, but the result differs from MongoDB';
    } catch (err) {
      out[name] = (err as Error).message.split('\n')[0] ?? 'error';
    }
  }
  return out;
}

if (import.meta.main) {
  const uri = process.argv[2] ?? process.env['MONGODB_URI'];
  if (uri === undefined) throw new Error('usage: node e2e/harness/mongo-features.ts MONGODB_URI');
  const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 });
  const db = client.db(`threatmesh_probe_${Date.now()}`);
  try {
    for (const [name, r] of Object.entries(await probeMongoFeatures(db))) console.log(`${r === true ? 'yes' : 'NO '}  ${name}${r === true ? '' : `  (${r})`}`);
  } finally {
    await db.dropDatabase();
    await client.close();
  }
}
