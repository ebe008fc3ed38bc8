/**
 * `threatmesh replica status|clear-halt|rebuild`: what a partner's operator does after its
 * replica halted (a fork, a tampered entry, a forged vote…) or its database diverged. `status`
 * shows each source's cursor, accepted tree head and halt; `clear-halt` lifts a halt once the
 * cause is understood (the next check halts again if the cause remains); `rebuild` forgets the
 * cursor and the replicated records so the operator pulls and verifies the whole log again and
 * drift repair makes the cluster match it.
 */
import type { Command } from 'commander';
import type { Db } from 'mongodb';
import type { ReplicaCursor } from '../domain/stores.ts';
import type { Logger } from '../log.ts';
import { MongoCursorStore, REPLICA_CURSORS } from '../store/cursor.ts';
import { INDICATORS } from '../store/indicators.ts';
import { REPLICA_DIGESTS } from '../store/replicadigests.ts';
import { REJECTIONS } from '../store/rejections.ts';
import { REPLICA_RECENT } from '../store/recentrecords.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { MongoLeafStore } from '../store/leaves.ts';
import { mongoClient } from '../store/connect.ts';

interface DbFlags extends OutputFlags {
  readonly mongodbUri?: string;
  readonly database: string;
}

interface SourceFlags extends DbFlags {
  readonly source?: string;
}

/** One source's replication state as `status` prints it. */
export interface SourceStatus {
  readonly source: string;
  readonly nextIndex: number;
  readonly treeSize: number | undefined;
  readonly rootHash: string | undefined;
  readonly headTimestamp: string | undefined;
  readonly halted: { readonly reason: string; readonly message: string; readonly index: number | undefined; readonly at: string } | undefined;
}

/** What `status` prints. */
export interface ReplicaStatus {
  readonly sources: readonly SourceStatus[];
  readonly indicators: { readonly active: number; readonly revoked: number };
  /** Verified REJECT entries replicated into `rejections` (ADD rounds the network rejected by votes). */
  readonly rejections: number;
}

/** The printable state of one cursor. */
export function sourceStatus(source: string, c: ReplicaCursor): SourceStatus {
  return {
    source, nextIndex: c.nextIndex, treeSize: c.head?.treeSize, rootHash: c.head?.rootHash, headTimestamp: c.head?.timestamp,
    halted: c.halted === undefined ? undefined : { reason: c.halted.reason, message: c.halted.message, index: c.halted.index, at: c.halted.at },
  };
}

/** Human text of a status. */
export function renderStatus(s: ReplicaStatus): string {
  const lines = s.sources.length === 0 ? ['no replication cursor yet: the operator has not replicated from any sequencer with this database'] : [];
  for (const x of s.sources) {
    lines.push(`${x.source}: applied ${x.nextIndex} entries; accepted tree head size ${x.treeSize ?? '-'} root ${x.rootHash ?? '-'} (${x.headTimestamp ?? 'none'})`);
    if (x.halted) {
      lines.push(`  HALTED at ${x.halted.at}: ${x.halted.reason}${x.halted.index !== undefined ? ` at entry ${x.halted.index}` : ''}: ${x.halted.message}`);
      lines.push(`  investigate (docs/trust-model.md), then: threatmesh replica clear-halt --source ${x.source}, or rebuild`);
    }
  }
  lines.push(`indicators: ${s.indicators.active} active, ${s.indicators.revoked} revoked; rejections: ${s.rejections} (proposals the network rejected by votes)`);
  return lines.join('\n') + '\n';
}

/** Throws a usage error naming --mongodb-uri when `uri` is not a MongoDB connection string. */
export function checkMongoUri(uri: string): void {
  if (!/^mongodb(\+srv)?:\/\//.test(uri)) throw new UsageError(`--mongodb-uri ${JSON.stringify(uri)} must start with mongodb:// or mongodb+srv://, e.g. mongodb://127.0.0.1:27017`);
}

/** Runs `fn` on the partner database of `flags` (--mongodb-uri, else MONGODB_URI), closing the connection after. */
export async function withDb<T>(flags: Pick<DbFlags, 'mongodbUri' | 'database'>, env: Pick<CliEnv, 'mongodbUri'>, fn: (db: Db) => Promise<T>): Promise<T> {
  const uri = flags.mongodbUri ?? env.mongodbUri;
  if (uri === undefined || uri === '') throw new UsageError('give the partner\'s MongoDB: --mongodb-uri URI or MONGODB_URI (the same the operator uses with --exchange)');
  checkMongoUri(uri);
  const client = mongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    return await fn(client.db(flags.database));
  } catch (err) {
    if (err instanceof Error && err.name === 'MongoServerSelectionError') throw new Error(`cannot reach MongoDB at ${uri}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await client.close();
  }
}

/** The replication state in a partner database: every source's cursor, the replicated indicator counts and the replicated rejections. */
export async function readStatus(db: Db): Promise<ReplicaStatus> {
  const docs = await db.collection<ReplicaCursor & { _id: string }>(REPLICA_CURSORS).find({}).sort({ _id: 1 }).toArray();
  const col = db.collection(INDICATORS);
  const [active, revoked, rejections] = await Promise.all([col.countDocuments({ state: 'active' }), col.countDocuments({ state: 'revoked' }), db.collection(REJECTIONS).countDocuments({})]);
  return { sources: docs.map(({ _id, ...c }) => sourceStatus(_id, c)), indicators: { active, revoked }, rejections };
}

/** The one source `flags` means: the given one (must exist) or the only one there is. */
async function pickSource(db: Db, flags: SourceFlags): Promise<string> {
  const ids = (await db.collection<{ _id: string }>(REPLICA_CURSORS).find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  if (flags.source !== undefined) {
    if (!ids.includes(flags.source)) throw new Error(`no cursor for source ${JSON.stringify(flags.source)} in database ${flags.database}; sources: ${ids.join(', ') || 'none'}`);
    return flags.source;
  }
  if (ids.length === 1) return ids[0]!;
  throw new Error(ids.length === 0 ? `no replication cursor in database ${flags.database}: nothing to do` : `several sources (${ids.join(', ')}): name one with --source`);
}

const OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };

function dbOptions(cmd: Command): Command {
  return addOutputFlags(cmd, OUTPUT)
    .option('--mongodb-uri <uri>', 'the partner\'s MongoDB (default: $MONGODB_URI)')
    .option('--database <name>', 'the replica\'s database (the operator\'s --database)', PARTNER_DEFAULTS.database);
}

/** Registers `threatmesh replica`. */
export function registerReplica(program: Command, env: CliEnv, _log: Logger): void {
  const replica = program.command('replica').description('inspect and recover this partner\'s replica of the network log (cursor, halts, rebuild) in its MongoDB');
  const out = (flags: DbFlags, value: unknown, text: string): void => emit(env, outputFormat(flags, OUTPUT), { value, human: () => text });

  dbOptions(replica.command('status').description('show each source\'s cursor, accepted tree head and halt, the replicated indicator counts and the replicated rejections'))
    .action(async (flags: DbFlags) => {
      const s = await withDb(flags, env, readStatus);
      out(flags, s, renderStatus(s));
      if (s.sources.some((x) => x.halted !== undefined)) process.exitCode = 3;
    });

  dbOptions(replica.command('clear-halt').description('lift a halt after investigating it; restart the operator to resume (a cause that remains halts it again)'))
    .option('--source <id>', 'the source, e.g. sequencer:<id> (default: the only one)')
    .action(async (flags: SourceFlags) => {
      const r = await withDb(flags, env, async (db) => {
        const source = await pickSource(db, flags);
        const store = new MongoCursorStore(db);
        const before = await store.load(source);
        await store.clearHalt(source);
        return { source, cleared: before?.halted !== undefined, halted: before?.halted };
      });
      out(flags, r, r.cleared ? `cleared the halt of ${r.source} (${r.halted?.reason ?? ''}); restart the operator to resume replication\n` : `${r.source} was not halted; nothing to do\n`);
    });

  dbOptions(replica.command('rebuild').description('forget the cursor and the replicated records (indicators and rejections) of a source so the operator pulls and verifies the whole log again (stop the operator first, start it after)'))
    .option('--source <id>', 'the source, e.g. sequencer:<id> (default: the only one)')
    .option('--yes', 'really delete the cursor and the replicated records', false)
    .action(async (flags: SourceFlags & { yes: boolean }) => {
      if (!flags.yes) throw new Error('rebuild deletes this partner\'s cursor and replicated indicator records (the log at the sequencer is untouched); stop the operator, then run again with --yes');
      const r = await withDb(flags, env, async (db) => {
        const source = await pickSource(db, flags);
        const records = await db.collection(INDICATORS).deleteMany({});
        await db.collection(REJECTIONS).deleteMany({});
        await db.collection(REPLICA_DIGESTS).deleteMany({});
        await db.collection(REPLICA_RECENT).deleteMany({});
        await db.collection<{ _id: string }>(REPLICA_CURSORS).deleteOne({ _id: source });
        await new MongoLeafStore(db).clear();
        return { source, deletedRecords: records.deletedCount };
      });
      out(flags, r, `forgot ${r.source}'s cursor and ${r.deletedRecords} replicated records; start the operator: it replicates and verifies the log from entry 0, then drift repair makes the ThreatIndicators match\n`);
    });
}
