/**
 * The one place the defaults of an EnforcementPolicy (types generated into types.ts from
 * schemas/enforcementpolicy.ts) are resolved: `resolvePolicy` turns a validated spec into a complete
 * `ResolvedPolicy` that the enforcement code reads without optional fields.
 */
import type { EnforceableType, EnforcementMode, EnforcementPolicySpec, Tlp } from './types.ts';
import { parseDecayDuration, type DecayRule } from '../domain/decay.ts';
import { DEFAULT_HOSTS_MAP, DEFAULT_IPS_MAP, DEFAULT_RUNTIME_API, ENFORCEABLE_TYPE_ENUM } from './schemas/enforcementpolicy.ts';

export type { EnforceableType, EnforcementMode, EnforcementPolicy, EnforcementPolicySpec, EnforcementPolicyStatus } from './types.ts';

/** Which indicators a policy selects, every default applied. */
export interface ResolvedSelector {
  readonly types: ReadonlySet<EnforceableType>;
  readonly minConfidence: number;
  readonly maxTlp: Tlp;
  readonly anyOf: readonly string[];
  readonly noneOf: readonly string[];
  /** Confidence decay (selector.confidenceDecay), or undefined when the policy has none. */
  readonly decay: DecayRule | undefined;
}

/** Cilium settings, every default applied. */
export interface ResolvedCilium {
  readonly enabled: boolean;
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly maxCidrsPerGroup: number;
  readonly maxGroupBytes: number;
  readonly maxCidrs: number;
}

/** HAProxy settings, every default applied. */
export interface ResolvedHaproxy {
  readonly enabled: boolean;
  readonly runtimeApis: readonly string[];
  readonly hostsMap: string;
  readonly ipsMap: string;
  readonly maxEntries: number;
}

/** A policy with every default applied. */
export interface ResolvedPolicy {
  readonly mode: EnforcementMode;
  readonly selector: ResolvedSelector;
  readonly cilium: ResolvedCilium;
  readonly haproxy: ResolvedHaproxy;
  readonly allowCidrs: readonly string[];
  readonly allowDomains: readonly string[];
  readonly allowConfigMaps: ReadonlyArray<{ readonly name: string; readonly key?: string }>;
  /** Deprecated fields the spec still uses, each with what to write instead (the Ready condition repeats them). */
  readonly deprecated: readonly string[];
}

/** Defaults of every optional field, in one place (the schema descriptions state the same values). */
export const POLICY_DEFAULTS = {
  mode: 'LogOnly',
  minConfidence: 0,
  decayFloor: 0,
  decayMinSightingParties: 1,
  maxTlp: 'amber+strict',
  maxCidrsPerGroup: 20_000,
  maxGroupBytes: 512 * 1024,
  maxCidrs: 400_000,
  maxMapEntries: 1_000_000,
  runtimeApi: DEFAULT_RUNTIME_API,
  hostsMap: DEFAULT_HOSTS_MAP,
  ipsMap: DEFAULT_IPS_MAP,
} as const satisfies Record<string, string | number>;

function resolveDecay(d: NonNullable<EnforcementPolicySpec['selector']>['confidenceDecay']): DecayRule | undefined {
  if (d === undefined) return undefined;
  // The schema's pattern admits exactly what parseDecayDuration parses; 0 never reaches here.
  const halfLifeMs = parseDecayDuration(d.halfLife) ?? 30 * 86_400_000;
  // minParties is the deprecated name (docs/adr/2026-12-07-sighting-party-thresholds.md); the schema refuses both with different numbers.
  return { halfLifeMs, floor: d.floor ?? POLICY_DEFAULTS.decayFloor, minSightingParties: d.minSightingParties ?? d.minParties ?? POLICY_DEFAULTS.decayMinSightingParties };
}

/** The deprecated fields `spec` sets, each as a sentence that says what to write instead. */
export function deprecatedFields(spec: EnforcementPolicySpec): string[] {
  const decay = spec.selector?.confidenceDecay;
  return decay?.minParties === undefined ? [] : ['selector.confidenceDecay.minParties is deprecated: rename it to minSightingParties (same meaning)'];
}

function resolveSelector(sel: NonNullable<EnforcementPolicySpec['selector']>): ResolvedSelector {
  return {
    types: new Set(sel.types ?? ENFORCEABLE_TYPE_ENUM),
    minConfidence: sel.minConfidence ?? POLICY_DEFAULTS.minConfidence,
    maxTlp: sel.maxTlp ?? POLICY_DEFAULTS.maxTlp,
    anyOf: sel.labels?.anyOf ?? [],
    noneOf: sel.labels?.noneOf ?? [],
    decay: resolveDecay(sel.confidenceDecay),
  };
}

function resolveCilium(c: NonNullable<NonNullable<EnforcementPolicySpec['targets']>['cilium']>): ResolvedCilium {
  return {
    enabled: c.enabled ?? false,
    matchLabels: c.endpointSelector?.matchLabels ?? {},
    maxCidrsPerGroup: c.maxCidrsPerGroup ?? POLICY_DEFAULTS.maxCidrsPerGroup,
    maxGroupBytes: c.maxGroupBytes ?? POLICY_DEFAULTS.maxGroupBytes,
    maxCidrs: c.maxCidrs ?? POLICY_DEFAULTS.maxCidrs,
  };
}

function resolveHaproxy(h: NonNullable<NonNullable<EnforcementPolicySpec['targets']>['haproxy']>): ResolvedHaproxy {
  return {
    enabled: h.enabled ?? false,
    runtimeApis: h.runtimeApis ?? [POLICY_DEFAULTS.runtimeApi],
    hostsMap: h.hostsMap ?? POLICY_DEFAULTS.hostsMap,
    ipsMap: h.ipsMap ?? POLICY_DEFAULTS.ipsMap,
    maxEntries: h.maxEntries ?? POLICY_DEFAULTS.maxMapEntries,
  };
}

/** The policy's spec with every default applied. Pure; expects a schema-valid spec. */
export function resolvePolicy(spec: EnforcementPolicySpec): ResolvedPolicy {
  const allow = spec.allowlist ?? {};
  return {
    mode: spec.mode ?? POLICY_DEFAULTS.mode,
    selector: resolveSelector(spec.selector ?? {}),
    cilium: resolveCilium(spec.targets?.cilium ?? {}),
    haproxy: resolveHaproxy(spec.targets?.haproxy ?? {}),
    allowCidrs: allow.cidrs ?? [],
    allowDomains: allow.domains ?? [],
    allowConfigMaps: allow.configMaps ?? [],
    deprecated: deprecatedFields(spec),
  };
}
