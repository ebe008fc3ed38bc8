/**
 * EnforcementPolicy reconciler: keeps each policy's enforcement artifacts (CiliumCIDRGroups and
 * the egress-deny CiliumClusterwideNetworkPolicy, the HAProxy deny maps) equal to the approved,
 * non-revoked, non-expired indicators of the partner's replicated MongoDB set that the policy
 * selects, minus everything the allowlists protect. Level-based and polled: every reconcile reads
 * the records changed since the high-water mark and comes back after the poll interval (or
 * earlier, when an indicator's validity starts or ends), so an admission or revocation reaches
 * every enforcement point within about one poll interval plus the write time. A finalizer removes
 * every artifact before the policy goes away.
 */
import type { EnforcementPolicy } from '../api/enforcement.ts';
import { resolvePolicy, type ResolvedPolicy } from '../api/enforcement.ts';
import { ENFORCEMENT_POLICIES } from '../api/schemas/index.ts';
import type { KindValidator } from '../api/validate.ts';
import { PolicyEnforcer, type EnforcerDeps } from '../enforce/enforcer.ts';
import { buildGuard, POLICY_ALLOWLIST, type Guard } from '../enforce/guard.ts';
import { configMapEntries } from '../feeds/allowlists.ts';
import type { NamedAllowlist, WarningListData } from '../feeds/warninglists.ts';
import type { KubeWriter, StatusWriter } from '../runtime/client.ts';
import type { ConfigMap } from '../runtime/kinds.ts';
import { finalize } from '../runtime/finalizer.ts';
import { objectKey } from '../runtime/informer.ts';
import { TerminalError, type Context, type KubeObject, type ObjectKey, type Reader, type Reconciler, type Result } from '../runtime/types.ts';
import { ENFORCEMENT_REASON, statusAfterSync, statusWorthWriting } from './enforcementstatus.ts';
import { REASON } from '../api/reasons.ts';
import { writeStatus } from './status.ts';

/** Finalizer that removes a policy's artifacts before the policy is deleted. */
export const ENFORCEMENT_FINALIZER = 'threatmesh.io/enforcement-artifacts';

/** A ConfigMap as the allowlist reader needs it. */
/** A ConfigMap as the enforcement controller reads it (client-node's model). */
export type ConfigMapObject = ConfigMap;

/** What the reconciler needs. */
export interface EnforcementPolicyDeps {
  readonly writer: KubeWriter;
  readonly status: StatusWriter;
  readonly validator: KindValidator;
  /** Every EnforcementPolicy (to find HAProxy map conflicts), from the informer cache. */
  readonly policies: Reader<EnforcementPolicy>;
  /** ConfigMaps of the watched namespaces, from the informer cache. */
  readonly configMaps: Reader<ConfigMapObject>;
  /** The feeds' shipped warning lists. */
  readonly shipped: WarningListData;
  readonly enforcer: EnforcerDeps;
  /** How often the replicated set is polled. @default 1000 */
  readonly pollIntervalMs?: number;
}

/** The keys of the policies whose allowlists name ConfigMap `cm` (for the ConfigMap informer). */
export function policiesUsing(policies: readonly EnforcementPolicy[], cm: KubeObject): ObjectKey[] {
  return policies.filter((p) => p.metadata.namespace === cm.metadata.namespace && (p.spec.allowlist?.configMaps ?? []).some((r) => r.name === cm.metadata.name)).map(objectKey);
}

function mapKeys(p: ResolvedPolicy): string[] {
  return p.haproxy.enabled ? p.haproxy.runtimeApis.flatMap((a) => [`${a} ${p.haproxy.hostsMap}`, `${a} ${p.haproxy.ipsMap}`]) : [];
}

function olderThan(a: EnforcementPolicy, b: EnforcementPolicy): boolean {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta < tb || (ta === tb && objectKey(a) < objectKey(b));
}

/** False when an older live policy writes one of the same HAProxy maps. */
export function haproxyAllowed(self: EnforcementPolicy, resolved: ResolvedPolicy, all: readonly EnforcementPolicy[]): boolean {
  const mine = new Set(mapKeys(resolved));
  if (mine.size === 0) return true;
  return !all.some((o) => objectKey(o) !== objectKey(self) && !o.metadata.deletionTimestamp && olderThan(o, self) && mapKeys(resolvePolicy(o.spec)).some((k) => mine.has(k)));
}

/** Reconciles EnforcementPolicies; one PolicyEnforcer (with its loaded selection) per policy. */
export class EnforcementPolicyReconciler implements Reconciler<EnforcementPolicy> {
  readonly #deps: EnforcementPolicyDeps;
  readonly #enforcers = new Map<ObjectKey, PolicyEnforcer>();
  readonly #guards = new Map<ObjectKey, { key: string; guard: Guard }>();

  constructor(deps: EnforcementPolicyDeps) {
    this.#deps = deps;
  }

  async reconcile(ctx: Context, key: ObjectKey, obj: EnforcementPolicy | undefined): Promise<Result> {
    if (!obj) {
      this.#enforcers.delete(key);
      this.#guards.delete(key);
      return {};
    }
    return finalize(this.#deps.writer, ENFORCEMENT_POLICIES, obj, ENFORCEMENT_FINALIZER, {
      apply: (o) => this.#apply(ctx, key, o),
      cleanup: (o) => this.#cleanup(ctx, key, o),
    });
  }

  #enforcer(key: ObjectKey, obj: EnforcementPolicy): PolicyEnforcer {
    let e = this.#enforcers.get(key);
    if (!e) {
      e = new PolicyEnforcer(obj.metadata.namespace ?? '', obj.metadata.name, this.#deps.enforcer);
      this.#enforcers.set(key, e);
    }
    return e;
  }

  #allowlists(obj: EnforcementPolicy, policy: ResolvedPolicy): NamedAllowlist[] {
    const ns = obj.metadata.namespace ?? '';
    const lists: NamedAllowlist[] = [{ name: POLICY_ALLOWLIST, entries: [...policy.allowCidrs, ...policy.allowDomains] }];
    for (const ref of policy.allowConfigMaps) {
      const cm = this.#deps.configMaps.get(`${ns}/${ref.name}`);
      if (!cm) throw new TerminalError(ENFORCEMENT_REASON.AllowlistUnavailable, `allowlist ConfigMap ${ns}/${ref.name} does not exist: create it or remove it from spec.allowlist.configMaps (nothing changes until then: allowlists always win, so no artifact is written without them)`);
      try {
        lists.push({ name: `allowlist:${ref.name}`, entries: configMapEntries(cm, ref.key, `${ns}/${ref.name}`) });
      } catch (err) {
        throw new TerminalError(ENFORCEMENT_REASON.AllowlistUnavailable, err instanceof Error ? err.message : String(err));
      }
    }
    return lists;
  }

  #guard(key: ObjectKey, obj: EnforcementPolicy, policy: ResolvedPolicy): { guard: Guard; rulesKey: string } {
    const lists = this.#allowlists(obj, policy);
    const rulesKey = JSON.stringify([[...policy.selector.types].sort(), policy.selector.minConfidence, policy.selector.maxTlp, policy.selector.anyOf, policy.selector.noneOf, policy.selector.decay ?? null, lists]);
    const cached = this.#guards.get(key);
    if (cached?.key === rulesKey) return { guard: cached.guard, rulesKey };
    try {
      const guard = buildGuard(this.#deps.shipped, lists);
      this.#guards.set(key, { key: rulesKey, guard });
      return { guard, rulesKey };
    } catch (err) {
      throw new TerminalError(ENFORCEMENT_REASON.InvalidAllowlist, `${err instanceof Error ? err.message : String(err)}: fix the entry in spec.allowlist or the ConfigMap`);
    }
  }

  #resolve(obj: EnforcementPolicy): ResolvedPolicy {
    const checked = this.#deps.validator.validate(obj);
    if (!checked.ok) throw new TerminalError(REASON.InvalidSpec, `invalid EnforcementPolicy: ${checked.errors.join('; ')}`);
    return resolvePolicy(obj.spec);
  }

  async #apply(ctx: Context, key: ObjectKey, obj: EnforcementPolicy): Promise<Result> {
    const policy = this.#resolve(obj);
    const { guard, rulesKey } = this.#guard(key, obj, policy);
    const allowed = haproxyAllowed(obj, policy, this.#deps.policies.list());
    const now = ctx.now();
    const report = await this.#enforcer(key, obj).sync({ policy, guard, rulesKey, haproxyAllowed: allowed }, now.getTime());
    if (report.changed) ctx.log.info('enforcement artifacts updated', { highWater: report.highWater, selected: report.selected, cidrs: report.cilium?.cidrs, hosts: report.haproxy?.hosts, ips: report.haproxy?.ips, mode: policy.mode });
    for (const e of report.errors) ctx.log.warn('enforcement target failed; retrying next poll', { error: e });
    const next = statusAfterSync(obj, policy, report, allowed, now);
    if (statusWorthWriting(obj.status, next, now)) await writeStatus(this.#deps.status, ENFORCEMENT_POLICIES, obj, next as Record<string, unknown>);
    const poll = this.#deps.pollIntervalMs ?? 1000;
    return { requeueAfterMs: Math.max(50, Math.min(poll, report.nextEvent - now.getTime())) };
  }

  async #cleanup(ctx: Context, key: ObjectKey, obj: EnforcementPolicy): Promise<void> {
    const policy = resolvePolicy(obj.spec);
    await this.#enforcer(key, obj).cleanup(policy);
    this.#enforcers.delete(key);
    this.#guards.delete(key);
    ctx.log.info('enforcement artifacts removed', {});
  }
}
