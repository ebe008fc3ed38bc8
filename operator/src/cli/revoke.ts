/**
 * `threatmesh revoke NAME_OR_DIGEST --reason TEXT`: starts a network-wide revocation of an
 * admitted indicator. Finds the indicator in the sequencer's log by ThreatIndicator object name,
 * digest or value (or takes `--type` with a value), signs a REVOKE proposal (kind `revocation`
 * over exchange/entry.ts revocationPayload) with this partner's Ed25519 key, sends it over
 * mutual TLS, and prints the opened round. The revocation protocol carries no text, so the
 * reason travels as this partner's signed approve vote on the round (kept in the REVOKE entry);
 * `--no-vote` only proposes. The sequencer refuses what is not active (not-admitted, not-active).
 */
import type { Command } from 'commander';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { INDICATOR_TYPES, isIndicatorType, normalize, type Indicator } from '../domain/indicator.ts';
import { signVote } from '../domain/quorum.ts';
import type { SigningKey } from '../domain/signature.ts';
import { ExchangeCallError, type ExchangeClient } from '../exchange/protocol/client.ts';
import { ENTRY_LIMITS, signProposal, voteSubject } from '../domain/entry.ts';
import type { ProposalResult, VoteResult } from '../exchange/protocol/messages.ts';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { RESULT_OUTPUT, connection, explainCallError, withClient, type ConnectionFlags } from './vote.ts';
import { emit, outputFormat } from './output.ts';
import { loadKey, readFlagFile } from './flags.ts';

/** Flags of `revoke`. */
export interface RevokeFlags extends ConnectionFlags {
  readonly partnerId: string;
  readonly signingKey: string;
  readonly reason: string;
  /** When given, the argument is an indicator value of this type (no log lookup). */
  readonly type?: string;
  /** False with --no-vote: propose only, do not approve. */
  readonly vote: boolean;
}

/** The longest --reason accepted (it is signed into a vote and kept in the log). */
export const MAX_REASON = ENTRY_LIMITS.reason;

/** What happened to this partner's own approve vote on the revocation round. */
export type OwnVote =
  | { readonly status: VoteResult['status']; readonly approvals: number; readonly rejections: number; readonly required: number; readonly logIndex?: number }
  | { readonly status: 'refused'; readonly reason: string; readonly message: string }
  | { readonly status: 'skipped' };

/** The outcome of `threatmesh revoke`, as printed with --json. */
export interface RevokeOutcome {
  readonly name: string;
  readonly type: string;
  readonly value: string;
  readonly digest: string;
  /** What votes on the revocation sign (`threatmesh vote approve SUBJECT`). */
  readonly subject: string;
  readonly status: 'opened' | 'already-pending';
  readonly closesAt?: string;
  readonly vote: OwnVote;
}

/** Registers `revoke` on `program`. */
export function registerRevoke(program: Command, env: CliEnv, log: Logger): void {
  connection(program.command('revoke')
    .description('start a network-wide revocation of an admitted indicator: sign and send a REVOKE proposal to the sequencer, then approve it with the reason')
    .argument('<name-or-digest>', 'ThreatIndicator object name (e.g. domain-1f2e…), indicator digest, or indicator value, of an indicator in the log')
    .requiredOption('--reason <text>', 'why the indicator is withdrawn; signed with this partner\'s approve vote and kept in the log')
    .requiredOption('--partner-id <id>', "this partner's id (must match the CN of --tls-cert; needs the contributor role, and the voter role to approve)")
    .requiredOption('--signing-key <file>', "this partner's Ed25519 private key (PKCS#8 PEM, from `threatmesh keys generate`)")
    .option('--type <type>', `treat the argument as a value of this type instead of looking it up in the log (${INDICATOR_TYPES.join(', ')})`)
    .option('--no-vote', 'only propose: do not send this partner\'s approve vote (the reason is then not recorded)'))
    .action(async (query: string, flags: RevokeFlags) => {
      const outcome = await revoke(flags, query, () => new Date());
      log.debug('revocation proposed', { subject: outcome.subject, status: outcome.status });
      emit(env, outputFormat(flags, RESULT_OUTPUT), { value: outcome, human: () => `${formatRevokeOutcome(outcome)}\n` });
    });
}

/** Checks the flags that need no file or network; throws a message saying what to pass instead. */
export function checkRevokeFlags(flags: Pick<RevokeFlags, 'reason' | 'type' | 'partnerId'>, query: string): { readonly reason: string; readonly given: Indicator | undefined } {
  const reason = flags.reason.trim();
  if (reason === '') throw new UsageError('--reason must say why the indicator is withdrawn (it is signed and kept in the log), e.g. --reason "sinkholed by the registrar"');
  if (reason.length > MAX_REASON) throw new UsageError(`--reason is ${reason.length} characters; keep it under ${MAX_REASON + 1} (link a ticket for details)`);
  if (flags.partnerId.trim() === '') throw new UsageError('--partner-id must be this partner\'s id (the CN of --tls-cert)');
  if (query.trim() === '') throw new Error('name the indicator to revoke: its ThreatIndicator object name, digest or value');
  if (flags.type === undefined) return { reason, given: undefined };
  if (!isIndicatorType(flags.type)) throw new UsageError(`unknown --type ${JSON.stringify(flags.type)}; use one of ${INDICATOR_TYPES.join(', ')}`);
  const norm = normalize(flags.type, query.trim());
  if (!norm.ok) throw new Error(`${JSON.stringify(query.trim())} is not a valid ${flags.type}: ${norm.rejection.message}`);
  return { reason, given: norm.indicator };
}

async function revoke(flags: RevokeFlags, query: string, now: () => Date): Promise<RevokeOutcome> {
  const { reason, given } = checkRevokeFlags(flags, query);
  const key = loadKey(await readFlagFile('--signing-key', flags.signingKey), flags.signingKey);
  return withClient(flags, async (client) => {
    const indicator = given ?? await findInLog(client, query.trim(), flags.sequencer);
    const ack = await refusalExplained(flags, () => client.propose({ kind: 'revoke', indicatorJson: indicatorCanonicalJson(indicator), proposerId: flags.partnerId, signature: signProposal(key, 'revoke', indicator) }));
    if (ack.status === 'already-admitted') throw new Error(`the sequencer at ${flags.sequencer} answered already-admitted to a revocation; it does not speak this protocol version`);
    const vote = flags.vote ? await ownVote(client, { key, partnerId: flags.partnerId, reason, now }, indicator, ack) : { status: 'skipped' as const };
    return {
      name: indicatorObjectName(indicator), type: indicator.type, value: indicator.value, digest: ack.digest, subject: ack.subject, status: ack.status,
      ...(ack.window !== undefined ? { closesAt: ack.window.closesAt } : {}), vote,
    };
  });
}

/**
 * The indicator `query` names among the log's entries (object name, digest or value; revoked ones
 * included, so the sequencer says why it cannot be revoked). Throws when none or several match.
 */
export async function findInLog(client: Pick<ExchangeClient, 'treeHead' | 'entries'>, query: string, address: string): Promise<Indicator> {
  const size = (await client.treeHead()).treeSize;
  const hits = new Map<string, Indicator>();
  if (size > 0) {
    for await (const e of client.entries(0, size)) {
      if (!e.ok) continue;
      if (matches(e.entry.indicator, query)) hits.set(indicatorDigest(e.entry.indicator), e.entry.indicator);
    }
  }
  const found = [...hits.values()];
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new Error(`${JSON.stringify(query)} names ${found.length} indicators in the log (${found.map((i) => `${i.type} ${i.value}`).join(', ')}); pass the object name or the digest`);
  throw new Error(`no indicator named ${JSON.stringify(query)} in the sequencer's log at ${address} (${size} entries): only admitted indicators can be revoked; pass the ThreatIndicator object name, digest or value of an Approved indicator (\`kubectl get ti\`), or --type TYPE with a value`);
}

function matches(ind: Indicator, query: string): boolean {
  return indicatorObjectName(ind) === query || indicatorDigest(ind) === query || ind.value === query;
}

async function refusalExplained<T>(flags: RevokeFlags, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ExchangeCallError)) throw err;
    throw new Error(explainRevokeError(err, flags.sequencer), { cause: err });
  }
}

/** A human message for a refused revocation proposal: the sequencer's reason, and what to do. */
export function explainRevokeError(err: ExchangeCallError, address: string): string {
  const detail = err.message.replace(/^[A-Za-z]+: [A-Z_]+: /, '');
  switch (err.reason) {
    case 'not-admitted': return `the sequencer at ${address} refused the revocation (not-admitted): ${detail}. Only admitted (Approved) indicators can be revoked`;
    case 'not-active': return `the sequencer at ${address} refused the revocation (not-active): ${detail}`;
    case 'missing-role': return `the sequencer at ${address} refused the revocation (missing-role): ${detail}. Proposing a revocation needs the contributor role on this partner's PartnerNode`;
    default: return explainCallError(err, address);
  }
}

async function ownVote(client: ExchangeClient, me: { readonly key: SigningKey; readonly partnerId: string; readonly reason: string; readonly now: () => Date }, indicator: Indicator, ack: ProposalResult): Promise<OwnVote> {
  const { key, partnerId, reason, now } = me;
  const subject = voteSubject('revoke', indicatorDigest(indicator));
  if (ack.subject !== subject) throw new Error(`the sequencer named round ${ack.subject} for this revocation, but its subject is ${subject}: not voting; report this sequencer to the network`);
  try {
    const r = await client.vote(signVote(key, { partnerId, digest: subject, decision: 'approve', signedAt: now().toISOString(), reason }));
    return { status: r.status, approvals: r.approvals, rejections: r.rejections, required: r.required, ...(r.logIndex !== undefined ? { logIndex: r.logIndex } : {}) };
  } catch (err) {
    // The proposal stands either way: say why the approval did not count rather than fail.
    if (err instanceof ExchangeCallError && err.reason !== undefined) return { status: 'refused', reason: err.reason, message: err.message };
    throw err;
  }
}

/** What the command prints: the round, and what happened to this partner's approval. */
export function formatRevokeOutcome(o: RevokeOutcome): string {
  const what = `revocation of ${o.name} (${o.type} ${o.value})`;
  const head = o.status === 'opened' ? `${what} opened: round ${o.subject}${o.closesAt !== undefined ? `, voting closes at ${o.closesAt}` : ''}` : `${what} was already pending: round ${o.subject}${o.closesAt !== undefined ? `, voting closes at ${o.closesAt}` : ''}`;
  return `${head}\n${voteLine(o.vote)}`;
}

function voteLine(v: OwnVote): string {
  if (v.status === 'skipped') return 'no approve vote sent (--no-vote); voters approve it with `threatmesh vote approve SUBJECT` or the threatmesh.io/vote annotation';
  if (v.status === 'refused') return `this partner's approve vote was refused (${v.reason}): ${v.message}; the round stays open for the other voters`;
  const counts = `${v.approvals} approve, ${v.rejections} reject, ${v.required} required`;
  switch (v.status) {
    case 'counted': return `approve vote with the reason counted (${counts}); other voters approve it with \`threatmesh vote approve SUBJECT\` or the threatmesh.io/vote annotation`;
    case 'approved': return `approve vote counted; quorum reached (${counts}): revoked, log index ${v.logIndex ?? '?'}`;
    case 'rejected': return `approve vote counted, but quorum can no longer be reached (${counts}): the revocation is rejected`;
    case 'duplicate': return `this partner had already voted on this round (${counts}); nothing changed`;
  }
}
