/**
 * `threatmesh report trends|summary`: historic trends and executive summaries of this partner's
 * replicated data, read from its MongoDB (`--mongodb-uri`, like `threatmesh replica`).
 * Rejections are counted only with `--kubeconfig` (ThreatIndicators in phase Rejected): the log
 * replicates admissions and revocations, not rejected rounds. A summary is written by the model
 * given with `--model-url`/`--model`, or extractively without one; either way it passes the
 * grounding check, and nothing above `--max-tlp` (nor above `--model-max-tlp` for the model) is
 * read into it.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { OperatorParts } from '../controllers/setup.ts';
import { threatReportRunnable } from '../controllers/threatreport-runnable.ts';
import type { Logger } from '../log.ts';
import { MIN_MAX_TOKENS } from '../report/answer.ts';
import { MemoryAnswerCache } from '../report/cache.ts';
import { ReportMetrics } from '../report/metrics.ts';
import { OpenAiChatModel, type ModelEndpoint } from '../report/model.ts';
import { parseSince, windowEnding } from '../report/period.ts';
import { documentOf, renderMarkdown } from '../report/render.ts';
import { PartnerData } from '../report/source.ts';
import { summarize } from '../report/summarize.ts';
import { ReportService } from '../report/service.ts';
import { renderTrendsText } from '../report/table.ts';
import { parseTlp } from '../report/tlp.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { CliEnv } from './env.ts';
import { UsageError, flagValue } from './errors.ts';
import { withDb } from './replica.ts';
import { closeMongo, mongoClient } from '../store/connect.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';

interface CommonFlags extends OutputFlags {
  readonly mongodbUri?: string;
  readonly database: string;
  readonly since: string;
  readonly maxTlp: string;
}

interface SummaryFlags extends CommonFlags {
  readonly modelUrl?: string;
  readonly model?: string;
  readonly apiKeyFile?: string;
  readonly modelMaxTlp: string;
  readonly modelTimeout: string;
  readonly maxTokens: string;
  readonly citationEnum: boolean;
  readonly responseFormat: 'auto' | 'json_schema' | 'json_object';
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)} must be a positive whole number`);
  return n;
}

/** The model endpoint the flags describe, or undefined when none is given. */
export async function endpointFromFlags(flags: SummaryFlags): Promise<ModelEndpoint | undefined> {
  if (flags.modelUrl === undefined && flags.model === undefined) return undefined;
  if (flags.modelUrl === undefined || flags.model === undefined) throw new UsageError('give both --model-url URL and --model NAME (an OpenAI-compatible endpoint), or neither for the extractive summary');
  if (!/^https?:\/\//.test(flags.modelUrl)) throw new UsageError(`--model-url ${JSON.stringify(flags.modelUrl)} must be an http(s) URL such as https://api.openai.com/v1`);
  const apiKey = flags.apiKeyFile === undefined ? undefined : (await readFile(flags.apiKeyFile, 'utf8')).trim();
  return {
    baseUrl: flags.modelUrl, model: flags.model, apiKey, allowedTlp: flagValue('--model-max-tlp', flags.modelMaxTlp, (t) => parseTlp(t, '--model-max-tlp')),
    timeoutMs: timeoutMs(flags.modelTimeout), responseFormat: flags.responseFormat,
  };
}

function timeoutMs(text: string): number {
  const s = /^(\d{1,5})s$/.exec(text);
  if (s && Number(s[1]) > 0) return Number(s[1]) * 1000;
  try {
    return parseSince(text);
  } catch {
    throw new UsageError(`--model-timeout ${JSON.stringify(text)} must be a duration such as 30s or 2m`);
  }
}

const TRENDS_OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };
const SUMMARY_OUTPUT: OutputSpec = { formats: ['markdown', 'json', 'yaml'] };

function dbOptions(cmd: Command, since: string, maxTlp: string, output: OutputSpec): Command {
  return addOutputFlags(cmd, output)
    .option('--mongodb-uri <uri>', 'the partner\'s MongoDB (default: $MONGODB_URI)')
    .option('--database <name>', 'the replica\'s database (the operator\'s --database)', PARTNER_DEFAULTS.database)
    .option('--since <duration>', 'the window: from now back this long, e.g. 30d, 2w, 12h', since)
    .option('--max-tlp <tlp>', 'leave out everything marked above this TLP (clear, green, amber, amber+strict, red)', maxTlp);
}

/** Registers `threatmesh report`. */
export function registerReport(program: Command, env: CliEnv, log: Logger): void {
  const report = program.command('report').description('historic trends and executive summaries of this partner\'s replicated indicators and sightings (its MongoDB)');

  dbOptions(report.command('trends').description('admissions, rejections, revocations and sightings by type, feed, partner and week; time to quorum; top labels; feed quality'), '30d', 'red', TRENDS_OUTPUT)
    .action(async (flags: CommonFlags) => {
      const w = windowEnding(new Date(), flagValue('--since', flags.since, parseSince));
      const ceiling = flagValue('--max-tlp', flags.maxTlp, (t) => parseTlp(t, '--max-tlp'));
      const t = await withDb(flags, env, (db) => new PartnerData(db).trends(w, ceiling));
      emit(env, outputFormat(flags, TRENDS_OUTPUT), { value: t, human: () => renderTrendsText(t) });
    });

  dbOptions(report.command('summary').description('an executive summary of the latest threats: written by a model (any OpenAI-compatible endpoint) and checked against the data, or extractive'), '7d', 'green', SUMMARY_OUTPUT)
    .option('--model-url <url>', 'OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (none: extractive summary)')
    .option('--model <name>', 'model name at that endpoint')
    .option('--api-key-file <file>', 'file holding the endpoint\'s API key')
    .option('--model-max-tlp <tlp>', 'the most restrictive TLP this endpoint may receive (it never gets more than --max-tlp either)', 'clear')
    .option('--model-timeout <duration>', 'per request, e.g. 30s or 2m', '60s')
    .option('--max-tokens <n>', 'completion tokens per model answer (the answer\'s length limits shrink to fit)', '800')
    .option('--no-citation-enum', 'do not constrain citations to the candidate digests in the schema (the grounding check still refuses invented ones)')
    .addOption(new Option('--response-format <form>', 'structured output form: auto tries json_schema and falls back to json_object').choices(['auto', 'json_schema', 'json_object']).default('auto'))
    .action(async (flags: SummaryFlags) => {
      const w = windowEnding(new Date(), flagValue('--since', flags.since, parseSince));
      const audience = flagValue('--max-tlp', flags.maxTlp, (t) => parseTlp(t, '--max-tlp'));
      const maxTokens = positive('--max-tokens', flags.maxTokens);
      if (maxTokens < MIN_MAX_TOKENS) throw new UsageError(`--max-tokens ${maxTokens} is too small for a whole answer; give at least ${MIN_MAX_TOKENS}`);
      const endpoint = await endpointFromFlags(flags);
      const model = endpoint === undefined ? undefined : new OpenAiChatModel(endpoint, { log });
      const out = await withDb(flags, env, (db) => summarize(new PartnerData(db), { window: w, audience, model, maxTokens, constrainCitations: flags.citationEnum }, { cache: new MemoryAnswerCache(), log }));
      const doc = documentOf(out, { report: '', createdAt: new Date(), tlp: audience });
      const json = { ...out.summary, model: doc.model ?? null, fallbackReason: out.fallbackReason ?? null, maxTlp: audience, since: doc.since, until: doc.until, attempts: out.attempts, cited: doc.cited };
      emit(env, outputFormat(flags, SUMMARY_OUTPUT), { value: json, human: () => renderMarkdown(doc) });
    });
}

/**
 * The operator's ThreatReport controller over the partner's MongoDB (the exchange's database),
 * with the report gauges on the operator's registry (rejections are the replicated REJECT entries of that database).
 */
export function reportsRunnable(settings: { readonly mongodbUri: string; readonly database: string; readonly namespace: string }, deps: { readonly client: KubeClient; readonly log: Logger }, parts: Pick<OperatorParts, 'metrics'>): Runnable {
  const mongo = mongoClient(settings.mongodbUri);
  const metrics = new ReportMetrics(parts.metrics.registry);
  const generator = new ReportService({ db: mongo.db(settings.database), log: deps.log.child({ component: 'report' }), metrics });
  // A close waits forever on a database that stopped answering: bounded, so the stop keeps its deadline.
  return threatReportRunnable({ client: deps.client, log: deps.log, metrics: parts.metrics, generator, namespace: settings.namespace, onStop: async () => { await closeMongo(mongo, 3000, deps.log); } });
}
