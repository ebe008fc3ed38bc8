/**
 * EnforcementPolicy: which of the partner's replicated indicators its own enforcement points
 * (Cilium egress-deny policies, the HAProxy front door's deny maps) enforce, in which mode, and
 * what must never be blocked. The EnforcementPolicy controller (controllers/enforcementpolicy.ts)
 * keeps the artifacts equal to the selection; docs/adr/2026-12-06-enforcement.md explains why.
 */
import { AGE_COLUMN, NAME_PATTERN, READY_COLUMN, conditions, type CelRule, int, list, named, obj, objectSchema, str, stringMap, time, type KindDefinition, type SchemaNode } from './common.ts';
import { tlpSchema } from './threatindicator.ts';

/** LogOnly computes and reports every artifact but blocks nothing; Enforce blocks. */
export const ENFORCEMENT_MODE_ENUM = ['LogOnly', 'Enforce'] as const;
/** Indicator types an enforcement point can act on (addresses and networks, domains). */
export const ENFORCEABLE_TYPE_ENUM = ['ipv4', 'ipv6', 'cidr', 'domain'] as const;
/** A runtime API address: `unix:<absolute socket path>` or `tcp:<host>:<port>`. */
export const RUNTIME_API_PATTERN = '^(unix:/[^\\s]{1,255}|tcp:([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?|[0-9.]{7,15}|\\[[0-9a-f:.]+\\]):[0-9]{1,5})$';
/** An absolute path of a map file as HAProxy's configuration names it. */
export const MAP_PATH_PATTERN = '^/[^\\s]+$';
/** Default map of denied hosts (key: lower-case host; matched with map_dom). */
export const DEFAULT_HOSTS_MAP = '/etc/haproxy/maps/threatmesh-deny-hosts.map';
/** Default map of denied client addresses (key: IP or CIDR; matched with map_ip). */
export const DEFAULT_IPS_MAP = '/etc/haproxy/maps/threatmesh-deny-ips.map';
/** Default runtime API of the front door (the deployment's `stats socket`). */
export const DEFAULT_RUNTIME_API = 'unix:/var/run/haproxy/admin.sock';

/** Kubernetes object-size limit that every generated object must stay well below (etcd's default request limit is 1.5 MiB; 1 MiB is the usual ceiling). */
export const OBJECT_SIZE_LIMIT = 1024 * 1024;

function selector(): SchemaNode {
  return obj(
    {
      types: list(named('EnforceableType', { type: 'string', enum: [...ENFORCEABLE_TYPE_ENUM] }, 'Indicator types an enforcement point acts on.'), 4, { minItems: 1, 'x-kubernetes-list-type': 'set', description: 'Indicator types to enforce; default all four (ipv4, ipv6, cidr, domain). URLs, hashes and e-mail addresses are never enforced at the network level.' }),
      minConfidence: int(0, 100, { description: 'Enforce only indicators whose confidence is at least this; an indicator without a confidence counts as 0. Default 0.' }),
      maxTlp: tlpSchema('Enforce only indicators marked at most this restrictive (clear < green < amber < amber+strict < red; unmarked counts as clear). Default amber+strict: TLP:RED indicators are not written into cluster-wide objects that every cluster reader can list.'),
      labels: obj(
        {
          anyOf: list(str(64, { minLength: 1 }), 32, { 'x-kubernetes-list-type': 'set', description: 'When set, enforce only indicators carrying at least one of these labels.' }),
          noneOf: list(str(64, { minLength: 1 }), 32, { 'x-kubernetes-list-type': 'set', description: 'Never enforce indicators carrying any of these labels.' }),
        },
        [],
        { description: 'Label filters; noneOf wins over anyOf.' },
      ),
      confidenceDecay: confidenceDecay(),
    },
    [],
    { description: 'Which approved, non-revoked, non-expired indicators of the replicated set to enforce.' },
  );
}

/** A decay half-life: a whole number of minutes, hours or days (domain/decay.ts parseDecayDuration). */
export const DECAY_DURATION_PATTERN = '^[1-9][0-9]{0,4}(m|h|d)$';

/** Message of the CEL rule that refuses the deprecated minParties beside a different minSightingParties. */
export const DECAY_PARTIES_CONFLICT = 'minParties is the deprecated name of minSightingParties and differs from it: remove minParties (minSightingParties is the one read)';

function confidenceDecay(): SchemaNode {
  const parties = (description: string): SchemaNode => int(1, 1000, { description });
  return obj(
    {
      halfLife: str(8, { pattern: DECAY_DURATION_PATTERN, description: 'Time after which the effective confidence has halved, such as 30d, 72h or 90m. The clock starts at the indicator\'s last corroborated sighting (see minSightingParties), or at its admission (the close of its voting round) when it was never sighted.' }),
      floor: int(0, 100, { description: 'The effective confidence never decays below this; default 0. A floor at or above minConfidence turns decay off in effect.' }),
      minSightingParties: parties('What counts as seen for this policy\'s decay: distinct parties (this partner\'s own LogScans, and each peer or edge site whose signed sighting reports it accepted) that must have seen the indicator for sightings to restart the decay clock. The clock restarts at the latest time by which that many had seen it, however long ago (no window). Default 1. With 2 or more, one party alone (a hostile peer pushing fake sightings) cannot keep an indicator enforced. Independent of the voting policy\'s sightingCorroboration.minParties, which asks another question (how many parties within its window corroborate a vote; docs/adr/2026-12-07-sighting-party-thresholds.md).'),
      minParties: parties('Deprecated: the old name of minSightingParties, with the same meaning; read only when minSightingParties is absent, refused when both are set to different numbers, and reported in the Ready condition. Rename it to minSightingParties: it is removed in the next API version.'),
    },
    ['halfLife'],
    {
      description: 'Confidence decay for indicators nobody sees: the effective confidence is the stated one halved every halfLife since the last corroborated sighting (from the sightings collection and the sighting reports received from peers), and an indicator whose effective confidence falls below minConfidence leaves enforcement (status.skipped.decayed, status.decayed) until it is sighted again. Absent: no decay.',
      'x-kubernetes-validations': [{ rule: '!has(self.minParties) || !has(self.minSightingParties) || self.minParties == self.minSightingParties', message: DECAY_PARTIES_CONFLICT }] satisfies CelRule[],
    },
  );
}

function cilium(): SchemaNode {
  return obj(
    {
      enabled: { type: 'boolean', description: 'Write CiliumCIDRGroups and (in Enforce mode) the CiliumClusterwideNetworkPolicy that denies egress to them.' },
      endpointSelector: obj(
        { matchLabels: stringMap(32, 63, 'Pod labels; every endpoint of the cluster when empty.') },
        [],
        { description: 'Endpoints whose egress is denied; default every endpoint.' },
      ),
      maxCidrsPerGroup: int(1, 100_000, { description: 'Most CIDRs in one CiliumCIDRGroup shard; default 20000. Cilium handles about 100k CIDRs per group identity.' }),
      maxGroupBytes: int(4096, 900 * 1024, { description: 'Most bytes of one serialized CiliumCIDRGroup; default 524288 (half the 1 MiB object limit, leaving room for metadata).' }),
      maxCidrs: int(1, 10_000_000, { description: 'Most CIDRs across all groups (the ipcache budget: Cilium\'s ipcache map holds 512000 entries by default, shared with pods and nodes); default 400000. Above it the lowest-priority CIDRs (lowest confidence, then oldest) are left out and the policy reports Degraded.' }),
    },
    [],
    { description: 'Cilium enforcement: egress deny by destination address. Cilium cannot deny by FQDN (egressDeny has no toFQDNs), so domains are enforced by HAProxy only.' },
  );
}

function haproxy(): SchemaNode {
  return obj(
    {
      enabled: { type: 'boolean', description: 'Keep the front door\'s deny maps equal to the selection through its runtime API (no reload).' },
      runtimeApis: list(str(300, { pattern: RUNTIME_API_PATTERN }), 16, { minItems: 1, 'x-kubernetes-list-type': 'set', description: `Runtime API (admin level) of every HAProxy replica: unix:<socket path> or tcp:<host>:<port>; default ${DEFAULT_RUNTIME_API}.` }),
      hostsMap: str(1024, { pattern: MAP_PATH_PATTERN, description: `Map file of denied hosts as the HAProxy configuration names it (used with req.hdr(host),host_only,lower,map_dom(...)); default ${DEFAULT_HOSTS_MAP}.` }),
      ipsMap: str(1024, { pattern: MAP_PATH_PATTERN, description: `Map file of denied client addresses and networks (used with src,map_ip(...)); default ${DEFAULT_IPS_MAP}.` }),
      maxEntries: int(1, 10_000_000, { description: 'Most entries per map (HAProxy keeps maps in memory: about 300 bytes per address entry); default 1000000. Above it the lowest-priority entries are left out and the policy reports Degraded.' }),
    },
    [],
    { description: 'HAProxy front-door enforcement: requests for a denied host or from a denied address are refused with 403.' },
  );
}

function allowlist(): SchemaNode {
  const cmRef = obj(
    {
      name: str(253, { minLength: 1, pattern: NAME_PATTERN, description: 'ConfigMap name, same namespace as the policy.' }),
      key: str(253, { minLength: 1, pattern: '^[-._a-zA-Z0-9]+$', description: 'Key inside the ConfigMap; every key when omitted.' }),
    },
    ['name'],
    { description: 'A ConfigMap of allowlist entries, one per line (# comments): IPs, CIDRs or domains.' },
  );
  return obj(
    {
      cidrs: list(str(64, { minLength: 1 }), 1024, { description: 'The partner\'s own addresses and networks: an indicator overlapping one of them is never enforced.' }),
      domains: list(str(253, { minLength: 1 }), 1024, { description: 'The partner\'s own domains: an indicator that is, contains or lies under one of them is never enforced.' }),
      configMaps: list(cmRef, 16, { description: 'More allowlist entries from ConfigMaps in the policy\'s namespace, re-read when they change.' }),
    },
    [],
    { description: 'Partner-local allowlists; they always win over network decisions. Reserved and private ranges, public resolvers and the top domains are always allowed as well.' },
  );
}

function mode(description: string): SchemaNode {
  return named('EnforcementMode', { type: 'string', enum: [...ENFORCEMENT_MODE_ENUM], description }, 'LogOnly or Enforce.');
}

function spec(): SchemaNode {
  return named('EnforcementPolicySpec', obj(
    {
      mode: mode('LogOnly (default): compute and report every artifact (CIDR groups are written, they are inert alone) but write no deny policy and keep the HAProxy deny maps empty. Enforce: deny.'),
      selector: selector(),
      targets: obj({ cilium: cilium(), haproxy: haproxy() }, [], { description: 'Where to enforce.' }),
      allowlist: allowlist(),
    },
    [],
    { description: 'What to enforce, where and how.' },
  ), 'An EnforcementPolicy\'s spec as written (every field optional).');
}

function status(): SchemaNode {
  const count = int(0, Number.MAX_SAFE_INTEGER);
  return named('EnforcementPolicyStatus', obj(
    {
      mode: mode('The mode the artifacts were last written in.'),
      logIndex: int(-1, Number.MAX_SAFE_INTEGER, { description: 'High-water mark: the highest log index (admission or revocation) of the replicated set reflected in the artifacts.' }),
      selected: { ...count, description: 'Indicators selected for enforcement.' },
      skipped: { type: 'object', maxProperties: 64, additionalProperties: count, description: 'Indicators of the replicated set not enforced, by reason (revoked, expired, not-yet-valid, type, confidence, decayed, tlp, labels, allowlist names, malformed).' },
      cidrs: { ...count, description: 'CIDRs written to CiliumCIDRGroups (after covered prefixes are collapsed and limits applied).' },
      cidrGroups: { ...count, description: 'CiliumCIDRGroup shards.' },
      largestGroupBytes: { ...count, description: 'Serialized size of the largest CiliumCIDRGroup.' },
      domains: { ...count, description: 'Domains in the HAProxy hosts map.' },
      addresses: { ...count, description: 'Addresses and networks in the HAProxy address map.' },
      leftOut: { ...count, description: 'Selected entries left out because a limit was reached.' },
      decayed: { ...count, description: 'Indicators left out because their effective confidence decayed below minConfidence (selector.confidenceDecay); also counted in skipped.decayed.' },
      lastSyncTime: time('When the artifacts were last confirmed equal to the selection.'),
      lastChangeTime: time('When an artifact last changed.'),
      conditions: conditions(),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the status describes.' }),
    },
    [],
    { description: 'What is enforced, written by the operator.' },
  ), 'An EnforcementPolicy\'s status.');
}

/** The EnforcementPolicy kind. */
export const enforcementPolicyKind: KindDefinition = {
  kind: 'EnforcementPolicy',
  plural: 'enforcementpolicies',
  singular: 'enforcementpolicy',
  shortNames: ['ep'],
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
    { name: 'Selected', type: 'integer', jsonPath: '.status.selected' },
    { name: 'CIDRs', type: 'integer', jsonPath: '.status.cidrs' },
    { name: 'Domains', type: 'integer', jsonPath: '.status.domains' },
    { name: 'Log Index', type: 'integer', jsonPath: '.status.logIndex', priority: 1 },
    READY_COLUMN,
    AGE_COLUMN,
  ],
  schema: objectSchema('A partner\'s enforcement of the replicated indicators: Cilium egress deny and HAProxy deny maps.', spec(), status()),
};
