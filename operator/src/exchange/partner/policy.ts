/**
 * A partner's voting policy: typed configuration parsed and validated from YAML or JSON, and a
 * pure {@link evaluate} that answers approve, reject or abstain for one proposal. Abstain leaves
 * the round to an analyst (`threatmesh vote approve|reject`); manual mode always abstains.
 */
import { parse as parseYaml } from 'yaml';
import { INDICATOR_TYPES, type Indicator, type IndicatorType } from '../../domain/indicator.ts';
import { META_TLP, type EntryKind, type MetaTlp } from '../../domain/entry.ts';
import type { PendingRound } from '../protocol/messages.ts';
import type { Judgement, VotingPolicy as RoundJudge } from './voter.ts';
import type { WarningList, WarningListName } from '../../feeds/warninglists.ts';

/** The voting rules of one partner, as configured. */
export interface VotingPolicy {
  /** `manual`: every round waits for an analyst. */
  readonly mode: 'automatic' | 'manual';
  /** Reject proposals whose known confidence (0..100) is lower; abstain when the confidence is unknown. */
  readonly minConfidence?: number;
  /**
   * Reject proposals marked more restrictive than this TLP (clear < green < amber <
   * amber+strict < red): the log is replicated to every partner. Unmarked proposals pass.
   */
  readonly maxTlp?: MetaTlp;
  /** Partner ids or feed names whose proposals need no corroboration. */
  readonly trustedSources?: readonly string[];
  /** Approve only what this partner's own feeds also list (or a trusted source proposed). */
  readonly requireCorroboration?: boolean;
  /**
   * Sightings as corroboration: an indicator seen in the logs of at least `minParties` parties
   * (this partner and the peers and edge sites that share sightings with it) within `within`
   * counts as corroborated, and a revocation of such an indicator is left to an analyst even
   * from a trusted source (it is still being seen).
   */
  readonly sightingCorroboration?: { readonly minParties: number; readonly withinMs: number };
  /** Reject indicators on a warning list. */
  readonly warningLists: boolean;
  /** Only these types may be approved (others are rejected). */
  readonly allowTypes?: readonly IndicatorType[];
  /** These types are always rejected. */
  readonly denyTypes?: readonly IndicatorType[];
}

/** A configuration that does not validate; `field` names the offending member. */
export class VotingPolicyError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`voting policy: ${field}: ${message}`);
    this.name = 'VotingPolicyError';
    this.field = field;
  }
}

/** What is judged: the round's indicator and who proposed it, with what this partner knows of it. */
export interface PolicyProposal {
  readonly kind: EntryKind;
  readonly indicator: Indicator;
  readonly digest: string;
  readonly proposerId: string;
  /** The feed the proposal came from, when known. */
  readonly source?: string;
  /** Confidence 0..100, when known. */
  readonly confidence?: number;
  /** TLP marking, when known. */
  readonly tlp?: MetaTlp;
}

/** What the policy consults besides the proposal. */
export interface PolicyContext {
  /** This partner's warning lists; without it a policy with `warningLists: true` abstains. */
  readonly warningList?: WarningList;
  /** Whether this partner's own feeds list the indicator with this digest. */
  readonly corroborated: (digest: string) => boolean;
  /** How many parties saw the indicator recently (see VotingPolicy.sightingCorroboration); 0 when unknown. */
  readonly sightedBy?: (digest: string) => number;
}

/** The policy's answer, with a human-readable reason. */
export interface PolicyDecision {
  readonly decision: 'approve' | 'reject' | 'abstain';
  readonly reason: string;
}

const FIELDS = new Set(['mode', 'minConfidence', 'maxTlp', 'trustedSources', 'requireCorroboration', 'sightingCorroboration', 'warningLists', 'allowTypes', 'denyTypes']);

/**
 * Validates a parsed configuration object. Unknown members are refused (a typo must not silently
 * weaken the policy); `warningLists` defaults to true. Throws {@link VotingPolicyError}.
 */
export function validateVotingPolicy(value: unknown): VotingPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new VotingPolicyError('(root)', 'must be a mapping such as {mode: automatic, warningLists: true}');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) throw new VotingPolicyError(k, `unknown field; expected one of ${[...FIELDS].join(', ')}`);
  if (o.mode !== 'automatic' && o.mode !== 'manual') throw new VotingPolicyError('mode', `must be "automatic" or "manual", got ${JSON.stringify(o.mode)}`);
  const policy: { -readonly [K in keyof VotingPolicy]: VotingPolicy[K] } = { mode: o.mode, warningLists: optionalBoolean(o, 'warningLists') ?? true };
  const minConfidence = confidence(o.minConfidence);
  if (minConfidence !== undefined) policy.minConfidence = minConfidence;
  if (o.maxTlp !== undefined) policy.maxTlp = tlp(o.maxTlp);
  if (o.trustedSources !== undefined) policy.trustedSources = stringList(o.trustedSources, 'trustedSources');
  const corroboration = optionalBoolean(o, 'requireCorroboration');
  if (corroboration !== undefined) policy.requireCorroboration = corroboration;
  if (o.sightingCorroboration !== undefined) policy.sightingCorroboration = sightingRule(o.sightingCorroboration);
  return { ...policy, ...types(o) };
}

/** Parses a YAML or JSON document (JSON is YAML) and validates it; syntax errors name the line. */
export function parseVotingPolicy(text: string): VotingPolicy {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new VotingPolicyError('(document)', `not valid YAML or JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return validateVotingPolicy(value);
}

/**
 * Judges one proposal. Order: manual mode abstains; revocations of an indicator that enough
 * parties still see abstain, others are approved only for a trusted proposer; denied or
 * not-allowed types, warning-list hits and a confidence below the minimum are rejected; then a
 * trusted source, own-feed corroboration or enough sightings approves; without any,
 * `requireCorroboration` or a non-empty `trustedSources` abstains, and anything else is approved.
 */
export function evaluate(policy: VotingPolicy, proposal: PolicyProposal, context: PolicyContext): PolicyDecision {
  if (policy.mode === 'manual') return { decision: 'abstain', reason: 'manual mode: left to an analyst' };
  const trusted = isTrusted(policy, proposal);
  const sighted = sightedEnough(policy, proposal.digest, context);
  if (proposal.kind === 'revoke') {
    if (sighted !== undefined) return { decision: 'abstain', reason: `revocation of an indicator ${sighted} parties still see: left to an analyst` };
    return trusted ? { decision: 'approve', reason: `revocation proposed by trusted source ${proposal.proposerId}` } : { decision: 'abstain', reason: 'revocation from an untrusted source: left to an analyst' };
  }
  const screened = screen(policy, proposal, context);
  if (screened !== undefined) return screened;
  if (trusted) return { decision: 'approve', reason: `proposed by trusted source ${proposal.source !== undefined && policy.trustedSources?.includes(proposal.source) === true ? proposal.source : proposal.proposerId}` };
  if (context.corroborated(proposal.digest)) return { decision: 'approve', reason: 'corroborated by our own feeds' };
  if (sighted !== undefined) return { decision: 'approve', reason: `corroborated by sightings of ${sighted} parties` };
  if (policy.requireCorroboration === true) return { decision: 'abstain', reason: 'not corroborated by our own feeds and not from a trusted source: left to an analyst' };
  if ((policy.trustedSources?.length ?? 0) > 0) return { decision: 'abstain', reason: `proposer ${proposal.proposerId} is not a trusted source: left to an analyst` };
  return { decision: 'approve', reason: 'passes every automatic check' };
}

/** What a lookup tells the policy about a round besides its indicator and proposer. */
export type RoundFacts = Pick<PolicyProposal, 'source' | 'confidence' | 'tlp'>;

/**
 * The facts the proposer signed with the round (its metadata: source feed, confidence, TLP).
 * Trustworthy because the voter verifies the proposal signature over the metadata before it judges.
 */
export function metaFacts(round: PendingRound): RoundFacts {
  const m = round.meta;
  return { ...(m?.source !== undefined ? { source: m.source } : {}), ...(m?.confidence !== undefined ? { confidence: m.confidence } : {}), ...(m?.tlp !== undefined ? { tlp: m.tlp } : {}) };
}

/**
 * Adapts a policy to the automatic voter: abstentions become undefined (no vote), so a manual
 * policy makes the voter send nothing. `lookup` supplies what this partner knows of a round;
 * by default the round's signed metadata ({@link metaFacts}).
 */
export function roundJudge(policy: VotingPolicy, context: PolicyContext, lookup: (round: PendingRound) => RoundFacts = metaFacts): RoundJudge {
  return {
    judge(round: PendingRound): Judgement | undefined {
      const d = evaluate(policy, { kind: round.kind, indicator: round.indicator, digest: round.digest, proposerId: round.proposerId, ...lookup(round) }, context);
      return d.decision === 'abstain' ? undefined : { decision: d.decision, reason: d.reason };
    },
  };
}

function screen(policy: VotingPolicy, p: PolicyProposal, context: PolicyContext): PolicyDecision | undefined {
  const type = p.indicator.type;
  if (policy.denyTypes?.includes(type) === true) return { decision: 'reject', reason: `type ${type} is in denyTypes` };
  if (policy.allowTypes !== undefined && !policy.allowTypes.includes(type)) return { decision: 'reject', reason: `type ${type} is not in allowTypes` };
  if (policy.warningLists) {
    if (context.warningList === undefined) return { decision: 'abstain', reason: 'warning lists are enabled but not loaded: left to an analyst' };
    const hit: WarningListName | undefined = context.warningList.match(p.indicator);
    if (hit !== undefined) return { decision: 'reject', reason: `on warning list ${hit}` };
  }
  if (policy.maxTlp !== undefined && p.tlp !== undefined && META_TLP.indexOf(p.tlp) > META_TLP.indexOf(policy.maxTlp)) {
    return { decision: 'reject', reason: `TLP ${p.tlp} is more restrictive than the maximum ${policy.maxTlp}` };
  }
  if (policy.minConfidence !== undefined) {
    if (p.confidence === undefined) return { decision: 'abstain', reason: `confidence unknown (minimum ${policy.minConfidence}): left to an analyst` };
    if (p.confidence < policy.minConfidence) return { decision: 'reject', reason: `confidence ${p.confidence} is below the minimum ${policy.minConfidence}` };
  }
  return undefined;
}

// The number of parties that saw the indicator when it reaches the policy's minimum, else undefined.
function sightedEnough(policy: VotingPolicy, digest: string, context: PolicyContext): number | undefined {
  const rule = policy.sightingCorroboration;
  if (rule === undefined) return undefined;
  const n = context.sightedBy?.(digest) ?? 0;
  return n >= rule.minParties ? n : undefined;
}

const DURATION = /^(\d{1,4})(h|d)$/;

function sightingRule(v: unknown): { minParties: number; withinMs: number } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new VotingPolicyError('sightingCorroboration', 'must be a mapping such as {minParties: 2, within: 30d}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'minParties' && k !== 'within') throw new VotingPolicyError(`sightingCorroboration.${k}`, 'unknown field; expected minParties, within');
  if (typeof o.minParties !== 'number' || !Number.isInteger(o.minParties) || o.minParties < 1 || o.minParties > 1000) {
    throw new VotingPolicyError('sightingCorroboration.minParties', `must be a whole number from 1 to 1000, got ${JSON.stringify(o.minParties)}`);
  }
  const m = DURATION.exec(typeof o.within === 'string' ? o.within : o.within === undefined ? '30d' : '');
  if (m === null || Number(m[1]) === 0) throw new VotingPolicyError('sightingCorroboration.within', `must be a duration in hours or days such as 72h or 30d, got ${JSON.stringify(o.within)}`);
  return { minParties: o.minParties, withinMs: Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 86_400_000) };
}

function isTrusted(policy: VotingPolicy, p: PolicyProposal): boolean {
  const trusted = policy.trustedSources ?? [];
  return trusted.includes(p.proposerId) || (p.source !== undefined && trusted.includes(p.source));
}

function types(o: Record<string, unknown>): Pick<VotingPolicy, 'allowTypes' | 'denyTypes'> {
  const allowTypes = o.allowTypes !== undefined ? typeList(o.allowTypes, 'allowTypes') : undefined;
  const denyTypes = o.denyTypes !== undefined ? typeList(o.denyTypes, 'denyTypes') : undefined;
  const both = allowTypes?.filter((t) => denyTypes?.includes(t)) ?? [];
  if (both.length > 0) throw new VotingPolicyError('denyTypes', `${both.join(', ')} also in allowTypes; list each type in one of them`);
  return { ...(allowTypes !== undefined ? { allowTypes } : {}), ...(denyTypes !== undefined ? { denyTypes } : {}) };
}

function confidence(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) throw new VotingPolicyError('minConfidence', `must be an integer from 0 to 100, got ${JSON.stringify(v)}`);
  return v;
}

function tlp(v: unknown): MetaTlp {
  if (typeof v !== 'string' || !(META_TLP as readonly string[]).includes(v)) throw new VotingPolicyError('maxTlp', `must be one of ${META_TLP.join(', ')}, got ${JSON.stringify(v)}`);
  return v as MetaTlp;
}

function optionalBoolean(o: Record<string, unknown>, field: string): boolean | undefined {
  const v = o[field];
  if (v === undefined || typeof v === 'boolean') return v;
  throw new VotingPolicyError(field, `must be true or false, got ${JSON.stringify(v)}`);
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new VotingPolicyError(field, 'must be a list of strings');
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw new VotingPolicyError(`${field}[${i}]`, `must be a non-empty string, got ${JSON.stringify(s)}`);
  });
  return v as string[];
}

function typeList(v: unknown, field: string): IndicatorType[] {
  const list = stringList(v, field);
  list.forEach((t, i) => {
    if (!(INDICATOR_TYPES as readonly string[]).includes(t)) throw new VotingPolicyError(`${field}[${i}]`, `unknown indicator type ${JSON.stringify(t)}; expected one of ${INDICATOR_TYPES.join(', ')}`);
  });
  return list as IndicatorType[];
}
