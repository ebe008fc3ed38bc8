/**
 * `threatmesh vote approve|reject NAME_OR_DIGEST` and `threatmesh vote list` (pending proposals with
 * their vote counts): an analyst's manual
 * vote. Looks the pending round up on the sequencer (ListPending) by ThreatIndicator object name,
 * digest, vote subject or indicator value, signs the vote with the partner's Ed25519 key and
 * sends it over mutual TLS, then prints whether it was counted and whether quorum was reached.
 */
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { signVote, type VoteDecision } from '../domain/quorum.ts';
import { ExchangeCallError, ExchangeClient } from '../exchange/protocol/client.ts';
import type { PendingRound, VoteResult } from '../exchange/protocol/messages.ts';
import { roundSubject, type IndicatorMeta } from '../domain/entry.ts';
import type { TlsMaterial } from '../exchange/protocol/tls.ts';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { loadKey, readFlagFile } from './flags.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';

/** Connection flags shared by every `vote` subcommand and by `revoke`. */
export interface ConnectionFlags extends OutputFlags {
  readonly sequencer: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsCa: string;
  readonly serverName?: string;
  readonly timeout: string;
}

/** `vote list`: `--json` has always printed one array. */
const LIST_OUTPUT: OutputSpec = { formats: ['table', 'json', 'yaml', 'ndjson'] };
/** One result: `vote approve|reject`, `revoke`. */
export const RESULT_OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };

/** Flags of `vote approve|reject`. */
interface CastFlags extends ConnectionFlags {
  readonly partnerId: string;
  readonly signingKey: string;
  readonly reason?: string;
}

/** A pending round as the CLI shows it. */
export interface PendingView {
  readonly name: string;
  readonly kind: PendingRound['kind'];
  readonly type: string;
  readonly value: string;
  readonly digest: string;
  readonly subject: string;
  readonly proposer: string;
  readonly closesAt: string;
  /** The proposer's signed metadata (TLP, confidence, labels, validity, source), when it sent any. */
  readonly meta?: IndicatorMeta;
  /** Votes counted so far, when the sequencer reports them. */
  readonly approvals?: number;
  readonly rejections?: number;
  readonly required?: number;
}

/** The outcome of one manual vote, as printed with --json. */
export interface CastOutcome {
  readonly name: string;
  readonly value: string;
  readonly subject: string;
  readonly decision: VoteDecision;
  readonly status: VoteResult['status'];
  readonly approvals: number;
  readonly rejections: number;
  readonly required: number;
  readonly quorumReached: boolean;
  readonly logIndex?: number;
}

/** Registers `vote` with its `approve`, `reject` and `list` subcommands on `program`. */
export function registerVote(program: Command, env: CliEnv, log: Logger): void {
  const vote = program.command('vote').description("an analyst's manual vote on pending proposals (for partners whose voting policy is manual, or to overrule it)");
  for (const decision of ['approve', 'reject'] as const) {
    connection(vote.command(decision)
      .description(`sign and send a vote to ${decision} a pending proposal, found by ThreatIndicator name, digest, vote subject or indicator value`)
      .argument('<name-or-digest>', 'ThreatIndicator object name (e.g. domain-1f2e…), indicator digest, vote subject or indicator value')
      .requiredOption('--partner-id <id>', "this partner's id (must match the CN of --tls-cert)")
      .requiredOption('--signing-key <file>', "this partner's Ed25519 private key (PKCS#8 PEM, from `threatmesh keys generate`)")
      .option('--reason <text>', 'why; signed with the vote and kept in the log'))
      .action(async (query: string, flags: CastFlags) => {
        const outcome = await cast(flags, decision, query, () => new Date());
        log.debug('vote sent', { subject: outcome.subject, status: outcome.status });
        emit(env, outputFormat(flags, RESULT_OUTPUT), { value: outcome, human: () => `${formatOutcome(outcome)}\n` });
      });
  }
  connection(vote.command('list').description('list the proposals waiting for votes on the sequencer, with their vote counts'), LIST_OUTPUT)
    .action(async (flags: ConnectionFlags) => {
      const format = outputFormat(flags, LIST_OUTPUT);
      const views = (await withClient(flags, (c) => c.listPending())).map(pendingView);
      emit(env, format, { value: views, items: views, human: () => formatList(views) });
    });
}

/** Adds the sequencer connection flags (--sequencer, --tls-*, --server-name, --timeout) and the output flags (-o, --json) to `cmd`. */
export function connection(cmd: Command, output: OutputSpec = RESULT_OUTPUT): Command {
  return addOutputFlags(cmd, output)
    .requiredOption('--sequencer <host:port>', "the sequencer's exchange endpoint")
    .requiredOption('--tls-cert <file>', "this partner's client certificate (PEM)")
    .requiredOption('--tls-key <file>', "the client certificate's private key (PEM)")
    .requiredOption('--tls-ca <file>', "CA bundle (PEM) that issued the sequencer's certificate")
    .option('--server-name <name>', "name to check in the sequencer's certificate when it differs from the --sequencer host")
    .option('--timeout <ms>', 'deadline of each call in milliseconds', '10000');
}

async function cast(flags: CastFlags, decision: VoteDecision, query: string, now: () => Date): Promise<CastOutcome> {
  const key = loadKey(await readFlagFile('--signing-key', flags.signingKey), flags.signingKey);
  return withClient(flags, async (client) => {
    const round = findRound(await client.listPending(), query, flags.sequencer);
    // Sign the subject of the indicator shown, derived here: never a subject the sequencer names.
    const subject = roundSubject(round.kind, round.indicator);
    if (round.subject !== subject || round.digest !== indicatorDigest(round.indicator)) {
      throw new Error(`the sequencer at ${flags.sequencer} advertised the ${round.kind} round of ${round.indicator.type} ${JSON.stringify(round.indicator.value)} under subject ${round.subject}, but that indicator's subject is ${subject}: it is asking for votes on something else than it shows. Not voting; report this sequencer to the network`);
    }
    const fields = { partnerId: flags.partnerId, digest: subject, decision, signedAt: now().toISOString() };
    const result = await client.vote(signVote(key, flags.reason !== undefined ? { ...fields, reason: flags.reason } : fields));
    const view = pendingView(round);
    return {
      name: view.name, value: view.value, subject: round.subject, decision, status: result.status,
      approvals: result.approvals, rejections: result.rejections, required: result.required, quorumReached: result.status === 'approved' || result.status === 'rejected',
      ...(result.logIndex !== undefined ? { logIndex: result.logIndex } : {}),
    };
  });
}

/** Runs `use` with a client built from the connection flags, closes it, and turns call failures into messages that say what to check. */
export async function withClient<T>(flags: ConnectionFlags, use: (c: ExchangeClient) => Promise<T>): Promise<T> {
  const timeout = Number(flags.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a positive number of milliseconds, got ${JSON.stringify(flags.timeout)}`);
  const tls: TlsMaterial = { certPem: await readFlagFile('--tls-cert', flags.tlsCert), keyPem: await readFlagFile('--tls-key', flags.tlsKey), caPem: await readFlagFile('--tls-ca', flags.tlsCa) };
  const client = new ExchangeClient({ address: flags.sequencer, tls, deadlineMs: timeout, retry: { attempts: 3, baseMs: 200, capMs: 1_000 }, ...(flags.serverName !== undefined ? { serverName: flags.serverName } : {}) });
  try {
    return await use(client);
  } catch (err) {
    throw err instanceof ExchangeCallError ? new Error(explainCallError(err, flags.sequencer), { cause: err }) : err;
  } finally {
    client.close();
  }
}



/** A human message for a failed exchange call: which address, what the sequencer said, what to check. */
export function explainCallError(err: ExchangeCallError, address: string): string {
  const why = err.reason !== undefined ? ` (${err.reason})` : '';
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return `cannot reach the sequencer at ${address}: ${err.message}. Check --sequencer, that the sequencer is running, and that --tls-ca is the CA that issued its certificate (and --server-name matches the name in it)`;
    case grpc.status.PERMISSION_DENIED:
      return `the sequencer at ${address} refused: PERMISSION_DENIED${why}: ${err.message}. Only partners with the voter role may list and vote, and --partner-id must match the CN of --tls-cert`;
    case grpc.status.UNAUTHENTICATED:
      return `the sequencer at ${address} did not accept the client certificate: ${err.message}. Check --tls-cert and --tls-key`;
    case grpc.status.DEADLINE_EXCEEDED:
      return `the sequencer at ${address} did not answer in time: ${err.message}. Raise --timeout or check the sequencer`;
    default:
      return `the sequencer at ${address} refused the call${why}: ${err.message}`;
  }
}

/** How the CLI names and shows a pending round. */
export function pendingView(r: PendingRound): PendingView {
  return { name: indicatorObjectName(r.indicator), kind: r.kind, type: r.indicator.type, value: r.indicator.value, digest: r.digest, subject: r.subject, proposer: r.proposerId, closesAt: r.window.closesAt, ...(r.meta !== undefined ? { meta: r.meta } : {}), ...r.tally };
}

/**
 * The one pending round `query` names (object name, digest, subject or indicator value). Throws
 * with the closest pending names when none matches, or when it matches both an addition and a
 * revocation of the same indicator (pass the subject then).
 */
export function findRound(rounds: readonly PendingRound[], query: string, address: string): PendingRound {
  const q = query.trim();
  const hits = rounds.filter((r) => [indicatorObjectName(r.indicator), r.digest, r.subject, r.indicator.value].includes(q));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new Error(`${JSON.stringify(q)} matches ${hits.length} pending rounds (${hits.map((r) => `${r.kind} ${r.subject}`).join(', ')}); pass the vote subject instead`);
  if (rounds.length === 0) throw new Error(`no proposal named ${JSON.stringify(q)} is pending: the sequencer at ${address} has no pending proposals (already decided, expired, or never proposed)`);
  const near = closest(rounds, q, 5).map((r) => `  ${indicatorObjectName(r.indicator)}  ${r.indicator.value}${r.kind === 'revoke' ? ' (revoke)' : ''}`);
  return failNotFound(q, address, near);
}

function failNotFound(q: string, address: string, near: readonly string[]): never {
  throw new Error(`no pending proposal named ${JSON.stringify(q)} on the sequencer at ${address}; the closest pending ones are:\n${near.join('\n')}\n(run \`threatmesh vote list\` to see all)`);
}

/** The `n` rounds whose name, value or digest is nearest to `q` by edit distance. */
export function closest(rounds: readonly PendingRound[], q: string, n: number): PendingRound[] {
  const scored = rounds.map((r) => ({ r, d: Math.min(...[indicatorObjectName(r.indicator), r.indicator.value, r.digest].map((c) => editDistance(q, c))) }));
  return scored.sort((a, b) => a.d - b.d).slice(0, n).map((s) => s.r);
}

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** One line saying what happened to the vote. */
export function formatOutcome(o: CastOutcome): string {
  const head = `${o.decision} vote on ${o.name} (${o.value})`;
  const counts = `${o.approvals} approve, ${o.rejections} reject, ${o.required} required`;
  switch (o.status) {
    case 'approved': return `${head} accepted; quorum reached (${counts}): approved, log index ${o.logIndex ?? '?'}`;
    case 'rejected': return `${head} accepted; quorum can no longer be reached (${counts}): rejected`;
    case 'duplicate': return `${head} not counted again: this partner already voted (${counts})`;
    case 'counted': return `${head} accepted; quorum not reached yet (${counts})`;
  }
}

/** A table of pending rounds with their vote counts. */
export function formatList(views: readonly PendingView[]): string {
  if (views.length === 0) return 'no proposals are pending\n';
  const votes = (v: PendingView): string => (v.approvals !== undefined ? `${v.approvals}/${v.required ?? '?'} approve, ${v.rejections ?? 0} reject` : '?');
  const meta = (v: PendingView): string => [v.meta?.tlp !== undefined ? `TLP:${v.meta.tlp.toUpperCase()}` : '', v.meta?.confidence !== undefined ? `conf ${v.meta.confidence}` : '', v.meta?.source ?? ''].filter((x) => x !== '').join(' ') || '-';
  const rows = [['NAME', 'KIND', 'VALUE', 'PROPOSER', 'SIGNED METADATA', 'VOTES', 'CLOSES'], ...views.map((v) => [v.name, v.kind, v.value, v.proposer, meta(v), votes(v), v.closesAt])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
