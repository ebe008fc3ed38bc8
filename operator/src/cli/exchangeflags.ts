/**
 * The partner-exchange flags of `threatmesh operator` (`--exchange` and friends): validated
 * before anything connects, then loaded (PEM files, signing key, voting policy, warning lists)
 * into the leader-only partner exchange Runnable. The MongoDB connection opens when the partner exchange starts.
 */
import type { OperatorParts } from '../controllers/setup.ts';
import type { AdmissionPolicy } from '../api/admission.ts';
import { formatDuration, parseDuration } from '../controllers/schedule.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { SigningKey } from '../domain/signature.ts';
import { startPartnerService } from '../exchange/partner/service.ts';
import { PartnerMetrics } from '../exchange/partner/metrics.ts';
import { partnerRunnable, type StoppablePartner } from '../exchange/partner/startup.ts';
import { ExchangePreparation } from '../exchange/partner/prepare.ts';
import { parseVotingPolicy, type VotingPolicy } from '../exchange/partner/policy.ts';
import type { TlsMaterial } from '../exchange/protocol/tls.ts';
import { loadWarningLists } from '../feeds/warninglists.ts';
import type { Logger } from '../log.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { readCrl, readFlagFile } from './flags.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';
import { DEFAULT_VOTE_BATCH_SIZE } from '../exchange/partner/voter.ts';

/** The exchange flags as commander parses them. */
export interface ExchangeFlags {
  readonly exchange?: boolean;
  readonly exchangeNamespace?: string;
  readonly partnerId?: string;
  readonly signingKey?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly tlsCrl?: string;
  readonly mongodbUri?: string;
  readonly database?: string;
  readonly votingPolicy?: string;
  readonly gossipBind?: string;
  readonly repairInterval?: string;
  readonly syncInterval?: string;
  readonly voteBatchSize?: string;
}


/** Validated exchange settings (files not read yet). */
export interface ExchangeSettings {
  readonly namespace: string;
  readonly partnerId: string;
  readonly signingKey: string;
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string; readonly crl?: string };
  readonly mongodbUri: string;
  readonly database: string;
  readonly votingPolicy?: string;
  readonly gossipBind: { readonly host: string; readonly port: number };
  readonly repairIntervalMs: number;
  readonly syncIntervalMs: number;
  /** 0: protocol v1 votes; N: protocol v2 batches of at most N votes. */
  readonly voteBatchSize: number;
}

const ONLY_WITH_EXCHANGE: ReadonlyArray<[keyof ExchangeFlags, string]> = [
  ['tlsCert', '--tls-cert'], ['tlsKey', '--tls-key'], ['tlsCa', '--tls-ca'], ['tlsCrl', '--tls-crl'], ['votingPolicy', '--voting-policy'], ['gossipBind', '--gossip-bind'],
  ['repairInterval', '--repair-interval'], ['syncInterval', '--sync-interval'], ['exchangeNamespace', '--exchange-namespace'], ['database', '--database'], ['mongodbUri', '--mongodb-uri'],
  ['voteBatchSize', '--vote-batch-size'],
];

function duration(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Error(`${flag}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Checks the exchange flags without touching files or the network; undefined without
 * --exchange. Throws a message naming the flag and what to give.
 */
export function checkExchangeFlags(flags: ExchangeFlags, env: CliEnv, parseBind: (flag: string, text: string) => { host: string; port: number }): ExchangeSettings | undefined {
  if (flags.exchange !== true) {
    const stray = ONLY_WITH_EXCHANGE.filter(([k]) => flags[k] !== undefined).map(([, f]) => f);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} only apply with --exchange; add --exchange to join the partner exchange or drop them`);
    return undefined;
  }
  const missing = [['--partner-id', flags.partnerId], ['--signing-key', flags.signingKey], ['--tls-cert', flags.tlsCert], ['--tls-key', flags.tlsKey], ['--tls-ca', flags.tlsCa]].filter(([, v]) => v === undefined || v === '').map(([f]) => f);
  if (missing.length > 0) throw new UsageError(`--exchange needs ${missing.join(', ')}: this partner's id, its Ed25519 private.pem and its mTLS certificate, key and network CA (certificate CN = --partner-id)`);
  const mongodbUri = flags.mongodbUri ?? env.mongodbUri;
  if (mongodbUri === undefined || mongodbUri === '') throw new UsageError('--exchange needs a MongoDB URI: give --mongodb-uri mongodb://HOST:27017 or set MONGODB_URI');
  if (!/^mongodb(\+srv)?:\/\//.test(mongodbUri)) throw new Error(`--mongodb-uri ${JSON.stringify(mongodbUri)} must start with mongodb:// or mongodb+srv://`);
  const syncIntervalMs = duration('--sync-interval', flags.syncInterval ?? formatDuration(PARTNER_DEFAULTS.syncIntervalMs));
  const repairIntervalMs = duration('--repair-interval', flags.repairInterval ?? formatDuration(PARTNER_DEFAULTS.repairIntervalMs));
  const voteBatchSize = batchSize(flags.voteBatchSize);
  return {
    namespace: flags.exchangeNamespace ?? PARTNER_DEFAULTS.namespace, partnerId: flags.partnerId!, signingKey: flags.signingKey!,
    tls: { cert: flags.tlsCert!, key: flags.tlsKey!, ca: flags.tlsCa!, ...(flags.tlsCrl !== undefined ? { crl: flags.tlsCrl } : {}) }, mongodbUri, database: flags.database ?? PARTNER_DEFAULTS.database,
    ...(flags.votingPolicy !== undefined ? { votingPolicy: flags.votingPolicy } : {}),
    gossipBind: parseBind('--gossip-bind', flags.gossipBind ?? PARTNER_DEFAULTS.gossipBind), repairIntervalMs, syncIntervalMs, voteBatchSize,
  };
}

function batchSize(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_VOTE_BATCH) throw new UsageError(`--vote-batch-size must be 0 (a signature per vote, protocol v1) or a number of votes from 1 to ${MAX_VOTE_BATCH}, got ${JSON.stringify(text)}; ${DEFAULT_VOTE_BATCH_SIZE} is a good size once the sequencer and every partner run protocol v2`);
  return n;
}


/** Loaded exchange material, ready to build the partner exchange. */
export interface ExchangeMaterial {
  readonly settings: ExchangeSettings;
  readonly key: SigningKey;
  readonly tls: TlsMaterial;
  readonly votingPolicy: VotingPolicy;
}

/** Reads the PEM files, the signing key and the voting policy; throws naming the flag at fault. */
export async function loadExchangeMaterial(settings: ExchangeSettings): Promise<ExchangeMaterial> {
  const tls: TlsMaterial = {
    certPem: await readFlagFile('--tls-cert', settings.tls.cert), keyPem: await readFlagFile('--tls-key', settings.tls.key), caPem: await readFlagFile('--tls-ca', settings.tls.ca),
    ...(settings.tls.crl !== undefined ? { crlPem: await readCrl(settings.tls.crl) } : {}),
  };
  const key = SigningKey.fromPem(await readFlagFile('--signing-key', settings.signingKey));
  let votingPolicy: VotingPolicy = { mode: 'automatic', warningLists: true };
  if (settings.votingPolicy !== undefined) {
    const text = await readFlagFile('--voting-policy', settings.votingPolicy);
    try {
      votingPolicy = parseVotingPolicy(text);
    } catch (err) {
      throw new Error(`--voting-policy ${settings.votingPolicy}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return { settings, key, tls, votingPolicy };
}

/** How long the end of the process waits for the exchange's MongoDB client to close before going on without it. */
export const MONGO_CLOSE_MS = 3000;

/** The leadership-free part of the exchange's start for this process (exchange/partner/prepare.ts), shared by its terms. */
export function exchangePreparation(m: ExchangeMaterial, log: Logger): ExchangePreparation {
  return new ExchangePreparation({ uri: m.settings.mongodbUri, database: m.settings.database, log: log.child({ component: 'exchange' }) });
}

/**
 * The leader-only partner exchange Runnable of one term: waits for the process's preparation
 * (database connection, replica store: kept across attempts and terms, exchange/partner/prepare.ts),
 * loads warning lists and starts the partner exchange's loops, retrying with backoff while the
 * database is down (exchange/partner/startup.ts). An interrupted stop closes the database client
 * (cutting the calls in flight) and so discards the preparation.
 */
export function exchangeRunnable(m: ExchangeMaterial, deps: { readonly client: KubeClient; readonly log: Logger; readonly admission?: AdmissionPolicy; readonly onError?: (err: unknown) => void }, parts: OperatorParts, prepared: ExchangePreparation): Runnable {
  const log = deps.log.child({ component: 'exchange' });
  const exchangeMetrics = new PartnerMetrics(parts.metrics.registry);
  // This Runnable is the term's own: its start catches the prepared digest set up once (prepare.ts).
  const term = {};
  const launch = async (signal: AbortSignal): Promise<StoppablePartner> => {
    const { db, sink } = await prepared.ready(signal, term);
    const partner = await startPartnerService({
      client: deps.client, cache: parts.cache, db, sink, steps: prepared.steps, namespace: m.settings.namespace, partnerId: m.settings.partnerId, key: m.key, tls: m.tls,
      votingPolicy: m.votingPolicy, warningList: await loadWarningLists(), registry: parts.registry, metrics: parts.metrics.registry, exchangeMetrics, log,
      gossipBind: m.settings.gossipBind, syncIntervalMs: m.settings.syncIntervalMs, repairIntervalMs: m.settings.repairIntervalMs, voteBatchSize: m.settings.voteBatchSize,
      ...(deps.admission ? { admission: deps.admission } : {}),
    });
    return { stop: () => partner.stop(), interrupt: async () => { partner.interrupt(); await prepared.discard(); } };
  };
  return partnerRunnable(launch, {
    log, ...(deps.onError ? { onError: deps.onError } : {}),
    reporting: { metrics: exchangeMetrics, client: deps.client, cache: parts.cache.partnerNodes, namespace: m.settings.namespace, partnerId: m.settings.partnerId },
    step: () => prepared.steps.current(),
  });
}
