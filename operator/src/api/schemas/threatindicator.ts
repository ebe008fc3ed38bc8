/**
 * ThreatIndicator: one indicator under admission. `spec` is immutable (CEL); the value must
 * already be in canonical form, checked cheaply per type by CEL and fully by the webhook.
 */
import { INDICATOR_TYPES } from '../../domain/indicator.ts';
import { ENTRY_LIMITS } from '../../domain/entry.ts';
import { VOTE_BATCH_TEXT_LIMIT } from '../../domain/votebatch.ts';
import { AGE_COLUMN, conditions, int, list, named, obj, objectSchema, str, time, type CelRule, type KindDefinition, type SchemaNode } from './common.ts';

/** Indicator types the CRD accepts: exactly the domain's. */
export const INDICATOR_TYPE_ENUM = INDICATOR_TYPES;
/** TLP 2.0 markings, least to most restrictive. */
export const TLP_ENUM = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
/** Lifecycle phases of an indicator. */
export const PHASE_ENUM = ['Proposed', 'Approved', 'Rejected', 'Expired', 'Revoked'] as const;

/** An indicator type (the CRD enum: exactly the domain's). */
export function indicatorTypeSchema(description: string): SchemaNode {
  return named('IndicatorTypeName', { type: 'string', enum: [...INDICATOR_TYPE_ENUM], description }, 'Indicator types, as in the CRD enum (exactly the domain\'s).');
}

/** A TLP 2.0 marking. */
export function tlpSchema(description: string): SchemaNode {
  return named('Tlp', { type: 'string', enum: [...TLP_ENUM], description }, 'TLP 2.0 marking, least to most restrictive.');
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = `(${LABEL}[.])+${LABEL}`;

/**
 * Canonical-form regular expressions per indicator type (RE2 and ECMAScript compatible; embedded
 * in CEL raw string literals, so they must not contain a quote), with what a person should fix.
 */
export const VALUE_FORMATS: ReadonlyArray<{ readonly type: string; readonly regex: string; readonly message: string }> = [
  { type: 'ipv4', regex: `^${OCTET}([.]${OCTET}){3}$`, message: 'an ipv4 value must be a dotted quad without leading zeros, e.g. 192.0.2.1' },
  { type: 'ipv6', regex: '^[0-9a-f:.]*:[0-9a-f:.]*$', message: 'an ipv6 value must be lower-case RFC 5952 text, e.g. 2001:db8::1' },
  { type: 'cidr', regex: '^[0-9a-f:.]+/[0-9]{1,3}$', message: 'a cidr value must be a canonical network/prefix, e.g. 192.0.2.0/24 or 2001:db8::/32' },
  { type: 'domain', regex: `^${HOSTNAME}$`, message: 'a domain value must be lower-case letters, digits and hyphens separated by dots (IDNs in xn-- form), e.g. example.com' },
  { type: 'url', regex: '^(https?|ftp)://[^ ]+$', message: 'a url value must start with a lower-case http://, https:// or ftp:// and contain no spaces (percent-encode them), e.g. https://example.com/Path' },
  { type: 'md5', regex: '^[0-9a-f]{32}$', message: 'an md5 value must be 32 lower-case hex digits' },
  { type: 'sha1', regex: '^[0-9a-f]{40}$', message: 'a sha1 value must be 40 lower-case hex digits' },
  { type: 'sha256', regex: '^[0-9a-f]{64}$', message: 'a sha256 value must be 64 lower-case hex digits' },
  { type: 'email', regex: `^[^@ ]+@${HOSTNAME}$`, message: 'an email value must be local@domain with a lower-case domain, e.g. abuse@example.com' },
];

function valueRules(): CelRule[] {
  return VALUE_FORMATS.map((f) => ({ rule: `self.type != '${f.type}' || self.value.matches(r'${f.regex}')`, message: f.message, fieldPath: '.value' }));
}

const SIGNATURE = str(256, { minLength: 1, description: 'Ed25519 signature, base64.' });
const PARTNER_ID = str(63, { minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'Partner id (DNS label).' });

function spec(): SchemaNode {
  return named('ThreatIndicatorSpec', obj(
    {
      type: indicatorTypeSchema('Indicator type.'),
      value: str(ENTRY_LIMITS.value, { minLength: 1, description: 'Normalized value (lower-case domain, canonical IP/CIDR, normalized URL, lower-case hex hash).' }),
      pattern: str(ENTRY_LIMITS.pattern, { description: 'STIX 2.1 pattern of the indicator.' }),
      confidence: int(0, 100, { description: 'Confidence 0-100.' }),
      tlp: tlpSchema('Traffic Light Protocol marking.'),
      labels: list(str(64), 32, { 'x-kubernetes-list-type': 'set', description: 'Free labels, e.g. malware family.' }),
      validFrom: time('Start of validity.'),
      validUntil: time('End of validity: the indicator becomes Expired at this instant.'),
      provenance: obj({ feed: str(253, { description: 'namespace/name of the Feed that produced it.' }), partner: PARTNER_ID, proposedAt: time('When it was proposed.') }, [], { description: 'Where the indicator came from.' }),
      proposal: obj({
        partnerId: PARTNER_ID,
        signature: SIGNATURE,
        batch: str(VOTE_BATCH_TEXT_LIMIT, { minLength: 1, description: 'Protocol v2 batch proposals only: "<leaf index> <batch size> <root> <proof hash> ..." (domain/proposalbatch.ts), the RFC 9162 inclusion proof of the text this proposal signs (the canonical indicator, or {"indicator","meta"} with its metadata) in the batch whose root signature is signature (kind proposal-batch). Absent for a single proposal.' }),
      }, ['partnerId', 'signature'], { description: 'Signature of the proposing partner over the canonical indicator (and its metadata); for a batch proposal over the batch root, with batch holding the inclusion proof.' }),
    },
    ['type', 'value'],
    {
      description: 'The canonical indicator. Immutable once created.',
      'x-kubernetes-validations': [
        { rule: 'self == oldSelf', message: 'spec is immutable: delete the ThreatIndicator and create a new one (its name is derived from the indicator digest)' },
        { rule: '!has(self.validFrom) || !has(self.validUntil) || self.validUntil > self.validFrom', message: 'validUntil must be after validFrom', fieldPath: '.validUntil' },
        ...valueRules(),
      ] satisfies CelRule[],
    },
  ), 'A ThreatIndicator\'s immutable spec.');
}

function voteSchema(subject: string): SchemaNode {
  return named('VoteRecord', obj(
    {
      partnerId: PARTNER_ID,
      decision: { type: 'string', enum: ['approve', 'reject'], description: 'approve or reject.' },
      reason: str(ENTRY_LIMITS.reason, { description: 'Why the voter decided so, as signed.' }),
      signedAt: time('When the voter signed.'),
      signature: SIGNATURE,
      batch: str(VOTE_BATCH_TEXT_LIMIT, { minLength: 1, description: 'Protocol v2 batch votes only: "<leaf index> <batch size> <root> <proof hash> ..." (domain/votebatch.ts), the RFC 9162 inclusion proof of this vote\'s signed fields in the batch whose root signature is the vote\'s signature (kind vote-batch). Absent for a single vote.' }),
    },
    ['partnerId', 'decision', 'signedAt', 'signature'],
    { description: `A partner's Ed25519 vote (signature kind vote, or vote-batch over a batch root when batch is set) on ${subject}.` },
  ), 'One signed vote recorded in a ThreatIndicator\'s status.');
}

function revocation(): SchemaNode {
  return named('RevocationRecord', obj(
    {
      logIndex: int(0, Number.MAX_SAFE_INTEGER, { description: 'Index of the REVOKE entry in the replicated Merkle log.' }),
      proposerId: PARTNER_ID,
      signature: str(256, { minLength: 1, description: 'The proposer\'s Ed25519 signature (kind revocation) over the canonical {"digest","kind":"revoke"}.' }),
      window: obj({ opensAt: time('When the revocation round opened.'), closesAt: time('When the revocation round closed.') }, ['opensAt', 'closesAt'], { description: 'Voting window of the revocation round.' }),
      votes: list(voteSchema('the SHA-256 of the revocation payload (exchange/entry.ts voteSubject)'), 64, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['partnerId'], description: 'The revocation\'s quorum certificate.' }),
    },
    ['logIndex', 'proposerId', 'signature', 'window', 'votes'],
    { description: 'The revocation certificate from the log: phase is Revoked only when its votes reach quorum.' },
  ), 'The certificate of a REVOKE log entry as a ThreatIndicator carries it: the proposer\'s signature (kind revocation over domain/entry.ts revocationPayload) and the revoke votes, signed on voteSubject(\'revoke\', digest) inside window.');
}

function status(): SchemaNode {
  return named('ThreatIndicatorStatus', obj(
    {
      phase: named('Phase', { type: 'string', enum: [...PHASE_ENUM], description: 'Proposed, Approved, Rejected, Expired or Revoked.' }, 'Indicator lifecycle phase.'),
      votes: list(voteSchema('the indicator digest'), 64, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['partnerId'], description: 'Signed votes, one per partner.' }),
      quorum: obj({
        required: int(0, 1000, { description: 'Approvals needed for admission.' }),
        approvals: int(0, 1000, { description: 'Valid approvals so far.' }),
        rejections: int(0, 1000, { description: 'Valid rejections so far.' }),
        summary: str(64, { description: 'approvals/required, for printing.' }) }, [], { description: 'Quorum required and reached.' }),
      logIndex: int(0, Number.MAX_SAFE_INTEGER, { description: 'Index in the replicated Merkle log once Approved.' }),
      revocation: revocation(),
      conditions: conditions(),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the status describes.' }),
    },
    [],
    { description: 'Admission state, written by the operator through the status subresource.' },
  ), 'A ThreatIndicator\'s status.');
}

/** The ThreatIndicator kind. */
export const threatIndicatorKind: KindDefinition = {
  kind: 'ThreatIndicator',
  plural: 'threatindicators',
  singular: 'threatindicator',
  shortNames: ['ti'],
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type' },
    { name: 'Value', type: 'string', jsonPath: '.spec.value' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Votes', type: 'string', jsonPath: '.status.quorum.summary', description: 'approvals/required' },
    { name: 'Quorum', type: 'integer', jsonPath: '.status.quorum.required' },
    { name: 'Index', type: 'integer', jsonPath: '.status.logIndex', description: 'log index of the admission', priority: 1 },
    { name: 'Revocation', type: 'integer', jsonPath: '.status.revocation.logIndex', description: 'log index of the revocation', priority: 1 },
    AGE_COLUMN,
  ],
  schema: objectSchema('One threat indicator under quorum admission.', spec(), status()),
};
