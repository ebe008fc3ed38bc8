/**
 * `threatmesh status [-n NS] [--mongodb-uri URI] [-o text|json|yaml]`: one screen for a partner.
 * It reads the cluster (Feeds and their last runs, ThreatIndicators still Proposed, PartnerNodes,
 * EnforcementPolicies) and, when a database is given, the partner's replica (tree size, applied
 * entries, halts, replicated counts), and ends with what needs attention and what to do.
 * Exit 3 when a replica is halted, as `replica status`.
 */
import type { Command } from 'commander';
import { ENFORCEMENT_POLICIES, FEEDS, PARTNER_NODES, THREAT_INDICATORS } from '../api/schemas/index.ts';
import type { EnforcementPolicy, Feed, PartnerNode, ThreatIndicator } from '../api/types.ts';
import type { Logger } from '../log.ts';
import { ApiError, listAll } from '../runtime/client.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import type { KubeObject, ResourceRef } from '../runtime/types.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import type { CliEnv } from './env.ts';
import { EXIT } from './errors.ts';
import { addClusterFlags, clusterConfig, type ClusterFlags } from './flags.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { readStatus, withDb, type ReplicaStatus } from './replica.ts';
import { renderStatusView, statusView, type PartnerStatusView } from './statusview.ts';

/** Flags of `threatmesh status`. */
export interface StatusFlags extends ClusterFlags, OutputFlags {
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly mongodbUri?: string;
  readonly database: string;
}

const OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };

async function listKind<T extends KubeObject>(client: KubeHttpClient, ref: ResourceRef, namespace: string | undefined): Promise<T[]> {
  try {
    return await listAll<T>(client, ref, namespace === undefined ? {} : { namespace });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new Error(`this cluster has no ${ref.kind} kind: install the ThreatMesh CRDs first (kubectl apply -f crds/, or the Helm chart; docs/deploy.md)`, { cause: err });
    if (err instanceof ApiError && err.status === 403) throw new Error(`not allowed to list ${ref.plural}${namespace ? ` in namespace ${namespace}` : ' in all namespaces'}: ${err.message}; ask for read access, or pass -n NAMESPACE`, { cause: err });
    throw err;
  }
}

async function readReplica(flags: StatusFlags, env: CliEnv): Promise<ReplicaStatus | null> {
  const uri = flags.mongodbUri ?? env.mongodbUri;
  if (uri === undefined || uri === '') return null;
  return withDb({ mongodbUri: uri, database: flags.database }, env, readStatus);
}

/** Reads everything `status` shows. */
export async function readPartnerStatus(flags: StatusFlags, env: CliEnv): Promise<PartnerStatusView> {
  const cfg = await clusterConfig(flags, env);
  const namespace = flags.allNamespaces === true ? undefined : flags.namespace;
  const client = new KubeHttpClient(cfg, { userAgent: 'threatmesh-status', requestTimeoutMs: 15_000 });
  try {
    const [feeds, indicators, peers, policies, replica] = await Promise.all([
      listKind<Feed>(client, FEEDS, namespace), listKind<ThreatIndicator>(client, THREAT_INDICATORS, namespace),
      listKind<PartnerNode>(client, PARTNER_NODES, namespace), listKind<EnforcementPolicy>(client, ENFORCEMENT_POLICIES, namespace),
      readReplica(flags, env),
    ]);
    return statusView({ cluster: cfg.context ?? cfg.server, namespace, feeds, indicators, peers, policies, replica });
  } finally {
    client.close();
  }
}

/** Registers `threatmesh status`. */
export function registerStatus(program: Command, env: CliEnv, log: Logger): void {
  addOutputFlags(addClusterFlags(program.command('status'), 'the partner\'s cluster'), OUTPUT)
    .description('one screen for this partner: feeds and their last runs, open rounds, replication (tree size, lag, halts) and what is enforced, then what needs attention (exit 3 when a replica is halted)')
    .option('-n, --namespace <ns>', 'only this namespace (default: all namespaces)')
    .option('-A, --all-namespaces', 'every namespace (the default; as kubectl -A)')
    .option('--mongodb-uri <uri>', 'the partner\'s MongoDB, for tree size, halts and replicated counts (default: $MONGODB_URI; without one, replication shows the PartnerNodes only)')
    .option('--database <name>', 'the replica\'s database (the operator\'s --database)', PARTNER_DEFAULTS.database)
    .addHelpText('after', '\nExamples:\n  threatmesh status\n  threatmesh status -n threatmesh --context prod -o json\n  MONGODB_URI=mongodb://… threatmesh status -o yaml')
    .action(async (flags: StatusFlags) => {
      const format = outputFormat(flags, OUTPUT);
      const v = await readPartnerStatus(flags, env);
      log.debug('status read', { feeds: v.feeds.length, openRounds: v.rounds.open, attention: v.attention.length });
      emit(env, format, { value: v, human: () => renderStatusView(v) });
      if (v.replication.replica?.sources.some((s) => s.halted !== undefined)) process.exitCode = EXIT.halted;
    });
}
