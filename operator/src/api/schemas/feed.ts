/**
 * Feed: a source of indicators to ingest on a schedule (interval or cron), with the format,
 * the column/field mapping, credentials and the defaults applied to every indicator.
 */
import { AGE_COLUMN, NAME_PATTERN, READY_COLUMN, conditions, int, list, named, obj, objectSchema, secretRef, str, stringMap, time, type CelRule, type KindDefinition, type SchemaNode } from './common.ts';
import { indicatorTypeSchema, tlpSchema } from './threatindicator.ts';

/** Feed formats the ingestion code understands. */
export const FEED_FORMAT_ENUM = ['csv', 'lines', 'json', 'jsonl', 'stix', 'misp', 'taxii'] as const;
/** A Go-style duration of whole units: 30s, 15m, 1h, 1h30m, 1d. */
export const DURATION_PATTERN = '^([0-9]{1,5}(d|h|m|s))+$';

/** Where one field of a record comes from: a CSV column by name or index, or a JSON path. */
function selector(description: string): SchemaNode {
  return named('FieldSelector', obj(
    {
      column: str(128, { description: 'CSV column by header name.' }),
      index: int(0, 1023, { description: 'CSV column by zero-based index.' }),
      jsonPath: str(512, { description: 'Dotted path inside a JSON record, e.g. attributes.value.' }),
    },
    [],
    {
      description,
      'x-kubernetes-validations': [{ rule: '[has(self.column), has(self.index), has(self.jsonPath)].filter(x, x).size() == 1', message: 'set exactly one of column, index or jsonPath' }] satisfies CelRule[],
    },
  ), 'Where one field of a record comes from: a CSV column by name or index, or a JSON path.');
}

/** Most ConfigMap allowlists one Feed may name. */
export const MAX_ALLOWLISTS = 16;
/** The namespace-wide default allowlist ConfigMap, used for every Feed of its namespace when it exists. */
export const DEFAULT_ALLOWLIST_CONFIGMAP = 'threatmesh-allowlist';

/** Label a Secret must carry, with the value "true", to be used as a Feed's credentials (spec.secretRef). */
export const FEED_CREDENTIALS_LABEL = 'threatmesh.io/feed-credentials';
/** Role, per Feed namespace, that lets the ingest ServiceAccount read the credentials Secrets it lists by name. */
export const FEED_CREDENTIALS_ROLE = 'threatmesh-feed-credentials';

function allowlistRef(): SchemaNode {
  return named('FeedAllowlist', obj(
    {
      configMapRef: obj(
        {
          name: str(253, { minLength: 1, pattern: NAME_PATTERN, description: 'ConfigMap name, same namespace.' }),
          key: str(253, { minLength: 1, pattern: '^[-._a-zA-Z0-9]+$', description: 'Key inside the ConfigMap; every key when omitted.' }),
        },
        ['name'],
        { description: 'A ConfigMap holding allowlist entries: IPs, CIDRs, domains (with subdomains) or exact values (URL, hash, email).' },
      ),
    },
    ['configMapRef'],
    { description: 'One extra allowlist.' },
  ), 'One extra allowlist of a Feed: a ConfigMap in the Feed\'s namespace.');
}

function mapping(): SchemaNode {
  return named('FeedMapping', obj(
    {
      delimiter: str(2, { minLength: 1, description: 'CSV delimiter; default ",".' }),
      header: { type: 'boolean', description: 'The first CSV line names the columns.' },
      comment: str(8, { minLength: 1, description: 'Lines starting with this prefix are skipped; default "#".' }),
      skipLines: int(0, 1000, { description: 'Lines to skip before the data.' }),
      itemsPath: str(512, { description: 'JSON path of the array of records in a json document.' }),
      value: selector('Where the indicator value comes from.'),
      type: selector('Where the indicator type comes from; defaults.type when absent.'),
      typeMap: stringMap(64, 16, 'Maps source type names (e.g. "ip-dst") to indicator types.'),
      fields: { type: 'object', maxProperties: 16, additionalProperties: selector('A source field.'), description: 'Extra fields: confidence, labels, validFrom, validUntil, description.' },
    },
    [],
    { description: 'How records map to indicators.' },
  ), 'How records map to indicators.');
}

function spec(): SchemaNode {
  return named('FeedSpec', obj(
    {
      url: str(2048, { pattern: '^https?://', description: 'HTTP(S) URL of the feed.' }),
      taxii: obj(
        {
          discoveryUrl: str(2048, { pattern: '^https?://', description: 'TAXII 2.1 discovery URL of the server, e.g. https://taxii.example/taxii2/.' }),
          apiRoot: str(2048, { description: 'API root to read from (its URL or its path below the server); default: the discovery document\'s default API root.' }),
          collection: str(256, { minLength: 1, description: 'Collection id (or title) whose objects are ingested.' }),
        },
        ['discoveryUrl', 'collection'],
        { description: 'A TAXII 2.1 collection.' },
      ),
      format: named('FeedFormat', { type: 'string', enum: [...FEED_FORMAT_ENUM], description: 'Payload format.' }, 'Feed formats.'),
      preset: str(128, { description: 'A built-in mapping preset, e.g. abuse.ch-feodo.' }),
      mapping: mapping(),
      secretRef: secretRef(`Credentials, sent to the origin of url (or taxii.discoveryUrl) only: keys username/password, token or header. The Secret must carry the label ${FEED_CREDENTIALS_LABEL}: "true" (a Feed may not send any other Secret), and ingestion Jobs may read it only when the Role ${FEED_CREDENTIALS_ROLE} of the namespace lists it (config/rbac/ingest.yaml).`),
      allowlists: list(allowlistRef(), MAX_ALLOWLISTS, {
        description: `Extra allowlists: indicators they list are never proposed. Each names a ConfigMap in the Feed's namespace (one entry per line, # comments). A ConfigMap named ${DEFAULT_ALLOWLIST_CONFIGMAP} in the namespace is used as well when it exists.`,
      }),
      schedule: obj(
        {
          interval: str(32, { pattern: DURATION_PATTERN, description: 'Run every interval, e.g. 1h or 30m.' }),
          cron: str(128, { description: 'Five-field cron expression (UTC), e.g. "0 */6 * * *".' }),
        },
        [],
        { description: 'When to run: exactly one of interval or cron.', 'x-kubernetes-validations': [{ rule: 'has(self.interval) != has(self.cron)', message: 'set exactly one of schedule.interval or schedule.cron' }] satisfies CelRule[] },
      ),
      defaults: obj(
        {
          type: indicatorTypeSchema('Indicator type when the record does not say.'),
          confidence: int(0, 100, { description: 'Confidence 0-100 when the record does not say.' }),
          tlp: tlpSchema('TLP marking when the record does not say.'),
          labels: list(str(64), 32, { description: 'Labels added to every indicator of this feed (for example malware family or campaign).' }),
          validFor: str(32, { pattern: DURATION_PATTERN, description: 'Validity of each indicator from ingestion, e.g. 30d.' }),
        },
        [],
        { description: 'Applied to every indicator of this feed unless the record says otherwise.' },
      ),
      limits: obj({
        maxBytes: int(1, 2 ** 40, { description: 'Largest download in bytes (after decompression); a larger feed fails the run.' }),
        timeoutSeconds: int(1, 86400, { description: 'Longest fetch, in seconds.' }),
      }, [], { description: 'Fetch size and time limits.' }),
      suspend: { type: 'boolean', description: 'Stop scheduling new runs.' },
      historyLimits: obj({
        successful: int(0, 100, { description: 'Succeeded ingestion Jobs to keep (default 3).' }),
        failed: int(0, 100, { description: 'Failed ingestion Jobs to keep (default 1).' }),
      }, [], { description: 'Finished Jobs to keep; defaults 3 and 1.' }),
    },
    ['format', 'schedule'],
    {
      description: 'What to ingest and when.',
      'x-kubernetes-validations': [
        { rule: 'has(self.url) != has(self.taxii)', message: 'set exactly one of url or taxii' },
        { rule: "(self.format == 'taxii') == has(self.taxii)", message: 'format taxii goes with a taxii source, and a taxii source with format taxii' },
      ] satisfies CelRule[],
    },
  ), 'A Feed\'s spec.');
}

function counts(): SchemaNode {
  return named('RunCounts', obj({
    fetched: int(0, Number.MAX_SAFE_INTEGER, { description: 'Records read from the feed.' }),
    new: int(0, Number.MAX_SAFE_INTEGER, { description: 'Indicators proposed (not known before).' }),
    duplicate: int(0, Number.MAX_SAFE_INTEGER, { description: 'Indicators already known (proposed or admitted before).' }),
    rejected: int(0, Number.MAX_SAFE_INTEGER, { description: 'Records refused (malformed, allowlisted, on a warning list...); rejectedReasons says why.' }),
    rejectedReasons: { type: 'object', maxProperties: 32, additionalProperties: int(0, Number.MAX_SAFE_INTEGER), description: 'Rejections by reason.' },
  }, ['fetched', 'new', 'duplicate', 'rejected'], { description: 'What the run read, proposed and refused.' }), 'Counts of one ingestion run.');
}

function status(): SchemaNode {
  const run = named('FeedRunStatus', obj({
    runId: str(128, { description: 'Id of the run (also on its Job and in its logs).' }),
    jobName: str(253, { description: 'The ingestion Job of the run (empty when it ran in the operator).' }),
    startTime: time('When the run started.'),
    completionTime: time('When the run finished.'),
    outcome: { type: 'string', enum: ['Running', 'Succeeded', 'Failed'], description: 'Running, Succeeded or Failed.' },
    counts: counts(),
    summary: str(64, { description: 'fetched/new, for printing.' }),
    message: str(4096, { description: 'Why the run failed, or what it warned about.' }),
  }), 'One run as recorded in Feed status.');
  return named('FeedStatus', obj(
    {
      schedule: str(160, { description: 'The schedule in words, for printing.' }),
      lastRun: { ...run, description: 'The last finished run.' },
      activeRun: { ...run, description: 'The run in progress, if any.' },
      nextRun: time('When the next run is due.'),
      consecutiveFailures: int(0, 1000000, { description: 'Failed runs in a row since the last success (retries back off with it).' }),
      conditions: conditions(),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the status describes.' }),
    },
    [],
    { description: 'Run history, written by the operator.' },
  ), 'A Feed\'s status.');
}

/** The Feed kind. */
export const feedKind: KindDefinition = {
  kind: 'Feed',
  plural: 'feeds',
  singular: 'feed',
  shortNames: ['feed'],
  printerColumns: [
    { name: 'Format', type: 'string', jsonPath: '.spec.format' },
    { name: 'Schedule', type: 'string', jsonPath: '.status.schedule' },
    { name: 'Last Run', type: 'date', jsonPath: '.status.lastRun.completionTime' },
    { name: 'Fetched/New', type: 'string', jsonPath: '.status.lastRun.summary' },
    READY_COLUMN,
    AGE_COLUMN,
  ],
  schema: objectSchema('A threat-intelligence feed ingested on a schedule.', spec(), status()),
};
