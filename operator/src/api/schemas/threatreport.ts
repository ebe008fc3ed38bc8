/**
 * ThreatReport: a scheduled executive summary of this partner's replicated indicators and
 * sightings, for an audience with a maximum TLP, written by an OpenAI-compatible model (or
 * extractively) and checked against the data. Every field has a description so that
 * `kubectl explain threatreport.spec` teaches the API.
 */
import { AGE_COLUMN, NAME_PATTERN, READY_COLUMN, conditions, int, named, obj, objectSchema, secretRef, str, time, type KindDefinition, type SchemaNode } from './common.ts';
import { tlpSchema } from './threatindicator.ts';

/** A report window: whole numbers of weeks, days, hours or minutes, e.g. 7d, 2w, 12h. */
export const WINDOW_PATTERN = '^([0-9]{1,4}(w|d|h|m))+$';
/** Label a model API key Secret must carry (set to "true") before a ThreatReport sends it anywhere. */
export const REPORT_CREDENTIALS_LABEL = 'threatmesh.io/report-credentials';
/** The namespaced Role that grants the operator `get` on the named model key Secrets (it reads no other Secret). */
export const REPORT_CREDENTIALS_ROLE = 'threatmesh-report-credentials';
/** Who wrote a summary. */
export const GENERATOR_ENUM = ['model', 'extractive'] as const;
/** Structured-output forms of a model request. */
export const RESPONSE_FORMAT_ENUM = ['auto', 'json_schema', 'json_object'] as const;

const tlp = tlpSchema;

function model(): SchemaNode {
  return named('ThreatReportModel', obj(
    {
      baseUrl: str(2048, { pattern: '^https?://', description: 'OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://llm.internal:8000/v1.' }),
      model: str(256, { minLength: 1, description: 'Model name at that endpoint.' }),
      apiKeySecretRef: secretRef(`Secret holding the endpoint's API key (key "apiKey" when no key is named). It must carry the label ${REPORT_CREDENTIALS_LABEL}: "true", and the operator reads it only when the Role ${REPORT_CREDENTIALS_ROLE} of the namespace grants it by name. Omit for endpoints without authentication.`),
      maxTlp: tlp('The most restrictive TLP this endpoint may receive; indicators above it (or above spec.audience.maxTlp) are never sent. Default clear.'),
      timeoutSeconds: int(1, 3600, { description: 'Per request. Default 60.' }),
      maxTokens: int(256, 32768, { description: 'Completion tokens per answer; the answer\'s length limits shrink to fit it. Default 800.' }),
      responseFormat: named('ResponseFormat', { type: 'string', enum: [...RESPONSE_FORMAT_ENUM], description: 'Structured output: json_schema (OpenAI), json_object with a schema (llama.cpp servers), or auto (try json_schema, fall back on a 4xx). Default auto.' }, 'Structured-output form of a ThreatReport\'s model requests.'),
      citationEnum: { type: 'boolean', description: 'Constrain citations to an enum of the candidate digests in the schema. Default true; the grounding check refuses invented citations either way.' },
      regenerations: int(0, 5, { description: 'Answers asked again after a refused one before falling back to the extractive summary. Default 2.' }),
    },
    ['baseUrl', 'model'],
    { description: 'The model endpoint that writes the summary; without it the summary is extractive.' },
  ), 'The model endpoint of a ThreatReport.');
}

function spec(): SchemaNode {
  return named('ThreatReportSpec', obj(
    {
      schedule: str(128, { minLength: 1, description: 'When to write a report: a five-field cron expression in UTC, e.g. "0 7 * * 1" (Mondays 07:00).' }),
      window: str(16, { pattern: WINDOW_PATTERN, description: 'How far back each report looks, e.g. 7d or 2w. Default 7d.' }),
      audience: obj(
        { maxTlp: tlp('The most restrictive TLP the readers may see; nothing above it is selected, cited or shown.') },
        ['maxTlp'],
        { description: 'Who reads the report.' },
      ),
      model: model(),
      selection: obj(
        {
          tokenBudget: int(100, 200_000, { description: 'Tokens the indicator lines given to the model may take. Default 1500.' }),
          maxIndicators: int(1, 200, { description: 'Most indicators given to the writer. Default 20.' }),
        },
        [],
        { description: 'How many of the most significant indicators (sightings, confidence, novelty, revocations) the summary draws on.' },
      ),
      configMapName: str(253, { pattern: NAME_PATTERN, description: 'ConfigMap (same namespace) that holds the latest report as summary.md, summary.html and summary.json. Default <name>-report.' }),
      suspend: { type: 'boolean', description: 'Write no new reports.' },
    },
    ['schedule', 'audience'],
    { description: 'What to report on, for whom, when, and with which model.' },
  ), 'A ThreatReport\'s spec.');
}

function status(): SchemaNode {
  const run = named('ThreatReportRun', obj(
    {
      reportId: str(256, { description: 'Id of the full report in MongoDB (collection reports) and in the HTTP API under /reports/<id>.' }),
      startTime: time('When the run started.'),
      completionTime: time('When the run finished.'),
      outcome: { type: 'string', enum: ['Succeeded', 'Failed'], description: 'Whether a report was written.' },
      generator: { type: 'string', enum: [...GENERATOR_ENUM], description: 'model when the model\'s answer passed the grounding check; extractive otherwise.' },
      headline: str(256, { description: 'The summary\'s headline.' }),
      citations: int(0, 10_000, { description: 'Indicators the summary cites.' }),
      offered: int(0, 10_000, { description: 'Indicators the writer was given.' }),
      attempts: int(0, 100, { description: 'Model answers asked for.' }),
      fallbackReason: str(1024, { description: 'Why the summary is extractive although a model is configured.' }),
      message: str(4096, { description: 'What went wrong when the run failed.' }),
    },
    [],
    { description: 'One run.' },
  ), 'One run of a ThreatReport as its status records it.');
  return named('ThreatReportStatus', obj(
    {
      lastRun: run,
      nextRun: time('When the next report is due.'),
      consecutiveFailures: int(0, 1_000_000, { description: 'Failed runs in a row; retries back off.' }),
      configMap: str(253, { description: 'The ConfigMap holding the latest report.' }),
      conditions: conditions(),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the status describes.' }),
    },
    [],
    { description: 'The latest report, written by the operator.' },
  ), 'A ThreatReport\'s status.');
}

/** The ThreatReport kind. */
export const threatReportKind: KindDefinition = {
  kind: 'ThreatReport',
  plural: 'threatreports',
  singular: 'threatreport',
  shortNames: ['tr'],
  printerColumns: [
    { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
    { name: 'Audience', type: 'string', jsonPath: '.spec.audience.maxTlp' },
    { name: 'Generator', type: 'string', jsonPath: '.status.lastRun.generator' },
    { name: 'Last Run', type: 'date', jsonPath: '.status.lastRun.completionTime' },
    { name: 'Headline', type: 'string', jsonPath: '.status.lastRun.headline', priority: 1 },
    READY_COLUMN,
    AGE_COLUMN,
  ],
  schema: objectSchema('A scheduled executive summary of the partner\'s threat intelligence, grounded in its own data.', spec(), status()),
};
