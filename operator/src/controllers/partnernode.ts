/**
 * PartnerNode reconciler: validates the partner identity (schema, Ed25519 key, endpoint, roles),
 * keeps the VoterRegistry current and reports Ready with the key id or what to fix.
 */
import type { PartnerNode } from '../api/types.ts';
import { PARTNER_NODES } from '../api/schemas/index.ts';
import type { KindValidator } from '../api/validate.ts';
import type { StatusWriter } from '../runtime/client.ts';
import { setCondition } from '../runtime/status.ts';
import { TerminalError, type Context, type ObjectKey, type Reconciler, type Result } from '../runtime/types.ts';
import { CONDITION, REASON } from '../api/reasons.ts';
import { writeStatus } from './status.ts';
import { partnerEntry, type VoterRegistry } from '../api/partners.ts';
import type { VerifiedSignatures } from '../domain/signature.ts';

/** What the PartnerNode reconciler needs. */
export interface PartnerNodeDeps {
  readonly status: StatusWriter;
  readonly registry: VoterRegistry;
  readonly validator: KindValidator;
  /** Where the voters' keys remember the signatures they verified: the process's, so a new term or a PartnerNode reconciled again keeps them (api/partners.ts partnerEntry). @default a memory per key */
  readonly signatures?: VerifiedSignatures;
}

function readyReason(roles: readonly string[]): string {
  if (roles.includes('sequencer')) return REASON.SequencerRegistered;
  return roles.includes('voter') ? REASON.VoterRegistered : REASON.PartnerRegistered;
}

/** Reconciles PartnerNodes into the voter registry; a `sequencer` PartnerNode is registered but never counts as a voter. */
export class PartnerNodeReconciler implements Reconciler<PartnerNode> {
  private readonly deps: PartnerNodeDeps;

  constructor(deps: PartnerNodeDeps) {
    this.deps = deps;
  }

  /** Registers a valid partner, forgets an invalid or deleted one; throws TerminalError for an invalid spec. */
  async reconcile(ctx: Context, key: ObjectKey, obj: PartnerNode | undefined): Promise<Result> {
    const { registry } = this.deps;
    if (!obj || obj.metadata.deletionTimestamp) {
      registry.remove(key);
      return {};
    }
    const checked = this.deps.validator.validate(obj);
    if (!checked.ok) {
      registry.remove(key);
      throw new TerminalError(REASON.InvalidSpec, `invalid PartnerNode: ${checked.errors.join('; ')}`);
    }
    const parsed = partnerEntry(key, obj, this.deps.signatures);
    if (!parsed.ok) {
      registry.remove(key);
      throw new TerminalError(parsed.reason === 'roles' ? REASON.InvalidRoles : REASON.InvalidPublicKey, parsed.message);
    }
    registry.upsert(parsed.entry);
    const conflicts = registry.conflicts(parsed.entry);
    const generation = obj.metadata.generation;
    const now = ctx.now();
    const ready = conflicts.length > 0
      ? { type: CONDITION.Ready, status: 'False' as const, reason: REASON.DuplicatePartnerId, message: `partner id ${obj.spec.partnerId} is also claimed with a different key by ${conflicts.map((c) => c.key).join(', ')}; neither counts as a voter until one PartnerNode is fixed or deleted`, observedGeneration: generation }
      : { type: CONDITION.Ready, status: 'True' as const, reason: readyReason(obj.spec.roles), message: `partner ${obj.spec.partnerId} (${obj.spec.roles.join(', ')}) with key id ${parsed.entry.publicKey.id.slice(0, 16)}`, observedGeneration: generation };
    const conditions = setCondition(obj.status?.conditions, ready, now);
    const wrote = await writeStatus(this.deps.status, PARTNER_NODES, obj, { ...obj.status, conditions, observedGeneration: generation });
    if (wrote && ready.status === 'False') await ctx.recorder.event(obj, 'Warning', ready.reason, ready.message);
    return {};
  }
}
