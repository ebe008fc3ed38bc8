/**
 * ThreatIndicator reconciler: recomputes the phase from the signed votes in status with the
 * admission rules (api/admission.ts) and the current voter set (a phase written by anyone else
 * is never taken on trust), records quorum counts and conditions, and expires the indicator at
 * validUntil by requeueing for exactly that instant.
 */
import type { Phase, ThreatIndicator, ThreatIndicatorStatus } from '../api/types.ts';
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import type { KindValidator } from '../api/validate.ts';
import { describeIgnored, evaluateIndicator, specProblem, type AdmissionPolicy, type Evaluation } from '../api/admission.ts';
import type { StatusWriter } from '../runtime/client.ts';
import { setCondition } from '../runtime/status.ts';
import { TerminalError, type Condition, type Context, type ObjectKey, type Reconciler, type Result } from '../runtime/types.ts';
import { CONDITION, REASON } from '../api/reasons.ts';
import { writeStatus } from './status.ts';
import type { VoterRegistry } from '../api/partners.ts';

/** What the ThreatIndicator reconciler needs. */
export interface ThreatIndicatorDeps {
  readonly status: StatusWriter;
  readonly registry: VoterRegistry;
  readonly validator: KindValidator;
  readonly policy?: AdmissionPolicy;
}

/** Reconciles ThreatIndicators: phase from signatures, expiry at validUntil. */
export class ThreatIndicatorReconciler implements Reconciler<ThreatIndicator> {
  private readonly deps: ThreatIndicatorDeps;

  constructor(deps: ThreatIndicatorDeps) {
    this.deps = deps;
  }

  /** Recomputes and writes the status; requeues for the instant the phase would change by itself. */
  async reconcile(ctx: Context, _key: ObjectKey, obj: ThreatIndicator | undefined): Promise<Result> {
    if (!obj || obj.metadata.deletionTimestamp) return {};
    const checked = this.deps.validator.validate(obj);
    if (!checked.ok) throw new TerminalError(REASON.InvalidSpec, `invalid ThreatIndicator: ${checked.errors.join('; ')}`);
    const problem = specProblem(obj);
    if (problem) throw new TerminalError(REASON.NotNormalized, problem);
    const now = ctx.now();
    const ev = evaluateIndicator(obj, this.deps.registry.voters(), now, this.deps.policy);
    const old = obj.status ?? {};
    const next: ThreatIndicatorStatus = {
      ...old,
      phase: ev.phase,
      quorum: { required: ev.required, approvals: ev.approvals, rejections: ev.rejections, summary: `${ev.approvals}/${ev.required}` },
      conditions: this.conditions(obj, ev, now),
      observedGeneration: obj.metadata.generation,
    };
    const wrote = await writeStatus(this.deps.status, THREAT_INDICATORS, obj, next as Record<string, unknown>);
    if (wrote && old.phase !== ev.phase) await this.announce(ctx, obj, old.phase, ev);
    return ev.changesAt ? { requeueAfterMs: Math.max(0, ev.changesAt.getTime() - now.getTime()) } : {};
  }

  private conditions(ti: ThreatIndicator, ev: Evaluation, now: Date): Condition[] {
    const gen = ti.metadata.generation;
    const ready = ev.phase === 'Proposed' ? 'False' : 'True';
    let c = setCondition(ti.status?.conditions, { type: CONDITION.Ready, status: ready, reason: ev.reason, message: ev.message, observedGeneration: gen }, now);
    c = setCondition(c, ev.ignored.length === 0
      ? { type: CONDITION.VotesVerified, status: 'True', reason: REASON.AllVotesVerified, message: `${ev.approvals + ev.rejections} vote(s) counted`, observedGeneration: gen }
      : { type: CONDITION.VotesVerified, status: 'False', reason: REASON.VotesIgnored, message: `not counted: ${describeIgnored(ev.ignored)}`, observedGeneration: gen }, now);
    return c;
  }

  private async announce(ctx: Context, ti: ThreatIndicator, was: Phase | undefined, ev: Evaluation): Promise<void> {
    const corrected = was !== undefined && was !== 'Proposed' && ev.phase !== 'Expired' && ev.phase !== 'Revoked';
    const reason = corrected ? REASON.PhaseCorrected : ev.reason;
    const message = corrected ? `phase ${was} was not proven by the signed votes; recomputed ${ev.phase}: ${ev.message}` : `${ev.phase}: ${ev.message}`;
    await ctx.recorder.event(ti, corrected ? 'Warning' : 'Normal', reason, message);
  }
}
