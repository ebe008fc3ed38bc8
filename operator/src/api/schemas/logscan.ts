/**
 * LogScan: one scan of a partner's own logs against the replicated indicators. The operator
 * splits the source into shards at line boundaries, runs them as an Indexed Job (or in-process
 * workers), shares the cluster's scan capacity between scans by weighted fair share, and
 * stores sightings (digests, counts, hour buckets) in the partner's database.
 */
import { AGE_COLUMN, NAME_PATTERN, READY_COLUMN, conditions, int, named, obj, objectSchema, secretRef, str, time, type CelRule, type KindDefinition, type SchemaNode } from './common.ts';

/** Log formats a LogScan reads (match/formats). */
export const LOG_FORMAT_ENUM = ['zeek', 'suricata-eve', 'combined', 'squid', 'cef', 'csv'] as const;
/** Phases of a LogScan. */
export const LOGSCAN_PHASE_ENUM = ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'] as const;

const COUNT = Number.MAX_SAFE_INTEGER;

// A Secret reference as LogScan sources name it (named for the TypeScript type only).
const keyRef = (description: string): SchemaNode => named('SecretKeyRef', secretRef(description), 'A Secret reference (same namespace).');

function source(): SchemaNode {
  return named('LogScanSource', obj(
    {
      file: obj(
        {
          path: str(4096, { minLength: 1, description: 'A log file, or a directory whose files are all scanned (in name order). Absolute for in-process workers; relative to the root of claimName for Jobs.' }),
          claimName: str(253, { pattern: NAME_PATTERN, description: 'PersistentVolumeClaim holding the logs, mounted read-only at /logs in the scan pods (Job executor).' }),
        },
        ['path'],
        { description: 'Logs on a volume.' },
      ),
      http: obj(
        {
          url: str(2048, { pattern: '^https?://', description: 'HTTP(S) URL of one log file; shards use Range requests when the server supports them.' }),
          secretRef: keyRef('Credentials: keys username/password, or token (bearer).'),
        },
        ['url'],
        { description: 'A log file served over HTTP(S).' },
      ),
      s3: obj(
        {
          endpoint: str(2048, { pattern: '^https?://', description: 'Base URL of the S3-compatible store (such as the cluster\'s Ceph object gateway); path-style requests.' }),
          region: str(64, { description: 'Signing region; us-east-1 when omitted.' }),
          bucket: str(63, { minLength: 3, description: 'Bucket name.' }),
          key: str(1024, { description: 'One object.' }),
          prefix: str(1024, { description: 'Every object whose key starts with this prefix (one or more shards each).' }),
          secretRef: keyRef('Secret with keys accessKeyId and secretAccessKey (and sessionToken for temporary credentials).'),
        },
        ['endpoint', 'bucket', 'secretRef'],
        { description: 'Objects in S3-compatible storage.', 'x-kubernetes-validations': [{ rule: 'has(self.key) != has(self.prefix)', message: 'set exactly one of s3.key or s3.prefix' }] satisfies CelRule[] },
      ),
    },
    [],
    { description: 'Where the logs are: exactly one of file, http or s3.', 'x-kubernetes-validations': [{ rule: '[has(self.file), has(self.http), has(self.s3)].filter(x, x).size() == 1', message: 'set exactly one of source.file, source.http or source.s3' }] satisfies CelRule[] },
  ), 'Where a LogScan\'s logs are: exactly one member is set.');
}

function spec(): SchemaNode {
  return named('LogScanSpec', obj(
    {
      source: source(),
      format: { type: 'string', enum: [...LOG_FORMAT_ENUM], description: 'Log format: zeek (TSV or JSON, any log path), suricata-eve, combined (NGINX/Apache), squid, cef, csv (flow records with a header row).' },
      timeRange: obj(
        {
          start: time('Records before this time are not counted.'),
          end: time('Records at or after this time are not counted.'),
        },
        [],
        { description: 'Only records whose own timestamp lies in [start, end) are counted; both bounds optional.', 'x-kubernetes-validations': [{ rule: '!has(self.start) || !has(self.end) || self.end > self.start', message: 'timeRange.end must be after timeRange.start' }] satisfies CelRule[] },
      ),
      priority: int(1, 1000, { description: 'Weight of this scan in the weighted fair share of scan capacity between running scans (a scan of priority 20 gets twice the shards at once of one of 10); 10 when omitted.' }),
      shardBytes: int(1_048_576, 2 ** 40, { description: 'Target size of one shard of an uncompressed input, in bytes; shards end at line boundaries. Compressed inputs and S3 objects smaller than this are one shard each. 268435456 (256 MiB) when omitted.' }),
      maxParallelism: int(1, 1000, { description: 'Most shards of this scan running at once, whatever its fair share.' }),
      suspend: { type: 'boolean', description: 'Start no new shards (running ones finish).' },
    },
    ['source', 'format'],
    { description: 'What to scan and how.', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable: create a new LogScan to scan something else' }] satisfies CelRule[] },
  ), 'A LogScan\'s spec (immutable).');
}

function status(): SchemaNode {
  const n = (description: string): SchemaNode => int(0, COUNT, { description });
  return named('LogScanStatus', obj(
    {
      phase: { type: 'string', enum: [...LOGSCAN_PHASE_ENUM], description: 'Pending (not planned yet), Running, Succeeded, Failed (a shard failed for good) or Suspended.' },
      planId: str(64, { description: 'Identity of the shard plan in the database (the LogScan uid).' }),
      jobName: str(253, { description: 'The Indexed Job running the shards (Job executor).' }),
      startTime: time('When the first shard started.'),
      completionTime: time('When the last shard finished.'),
      shards: named('LogScanShards', obj(
        { total: n('Shards planned.'), succeeded: n('Shards done (checkpointed).'), running: n('Shards running now.'), failed: n('Shards that failed for good.'), pending: n('Shards waiting for capacity.'), allotted: n('Shards at once this scan gets now (its fair share).') },
        [],
        { description: 'Shard counts.' },
      ), 'Shard counts in status.'),
      progress: named('LogScanProgress', obj(
        {
          bytesTotal: n('Bytes of input (as stored) of every shard, when the sources know their sizes.'),
          bytesDone: n('Bytes of input read (finished shards and progress of running ones).'),
          percent: int(0, 100, { description: 'bytesDone/bytesTotal in percent.' }),
          lines: n('Lines read.'),
          matchedRecords: n('Records that matched at least one indicator.'),
          indicatorsSeen: n('Distinct indicators seen in finished shards.'),
          bytesPerSecond: n('Average input throughput since the start.'),
          linesPerSecond: n('Average lines per second since the start.'),
          eta: time('When the scan should finish at the current throughput.'),
        },
        [],
        { description: 'Progress, throughput and estimated completion.' },
      ), 'Progress in status.'),
      rejected: { type: 'object', maxProperties: 32, additionalProperties: int(0, COUNT), description: 'Bad lines by reason (finished shards).' },
      message: str(4096, { description: 'What happened last, in words.' }),
      conditions: conditions(),
      observedGeneration: int(0, COUNT, { description: 'The generation this status describes.' }),
    },
    [],
    { description: 'Progress of the scan, written by the operator.' },
  ), 'A LogScan\'s status.');
}

/** The LogScan kind. */
export const logScanKind: KindDefinition = {
  kind: 'LogScan',
  plural: 'logscans',
  singular: 'logscan',
  shortNames: ['ls', 'logscan'],
  printerColumns: [
    { name: 'Format', type: 'string', jsonPath: '.spec.format' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Shards', type: 'integer', jsonPath: '.status.shards.total' },
    { name: 'Done', type: 'integer', jsonPath: '.status.shards.succeeded' },
    { name: 'Progress', type: 'integer', jsonPath: '.status.progress.percent', description: 'percent of input bytes read' },
    { name: 'Matches', type: 'integer', jsonPath: '.status.progress.matchedRecords' },
    { name: 'ETA', type: 'date', jsonPath: '.status.progress.eta', priority: 1 },
    READY_COLUMN,
    AGE_COLUMN,
  ],
  schema: objectSchema('A scan of this partner\'s logs against the replicated indicators; only sightings (indicator digests, counts, hour buckets) are stored.', spec(), status()),
};
