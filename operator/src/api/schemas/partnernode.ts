/**
 * PartnerNode: one partner of the network, its identity (Ed25519 key, endpoint, TLS) and roles.
 * Voters among them form the voter set the quorum logic uses.
 */
import { AGE_COLUMN, conditions, int, list, named, obj, objectSchema, secretRef, str, time, type CelRule, type KindDefinition, type SchemaNode } from './common.ts';
import { tlpSchema } from './threatindicator.ts';

/** Most retired keys a PartnerNode lists. */
export const MAX_RETIRED_KEYS = 8;

/**
 * Roles a party can hold. `sequencer` marks the one PartnerNode of the network's sequencer: its
 * spec.endpoint is the sequencer's gRPC address and spec.publicKey its tree-head signing key; it
 * is never a voter.
 */
export const ROLE_ENUM = ['contributor', 'voter', 'consumer', 'sequencer'] as const;
/** A raw 32-byte Ed25519 public key in standard base64: 43 characters, the last one of 16, then '='. */
export const PUBLIC_KEY_REGEX = '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$';
/** host:port with a DNS name, IPv4 or bracketed IPv6 host and a port 1-65535. */
export const ENDPOINT_REGEX = '^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?|\\[[0-9a-f:.]+\\]):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$';

function spec(): SchemaNode {
  return named('PartnerNodeSpec', obj(
    {
      partnerId: str(63, { minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'Stable partner id (DNS label).' }),
      organization: str(256, { minLength: 1, description: 'Organization name, for people.' }),
      endpoint: str(300, { description: 'gRPC exchange endpoint host:port.', 'x-kubernetes-validations': [{ rule: `self.matches(r'${ENDPOINT_REGEX}')`, message: 'endpoint must be host:port with a lower-case DNS name, IPv4 or [IPv6] host and a port 1-65535, e.g. exchange.partner.example:8443' }] satisfies CelRule[] }),
      publicKey: str(44, { description: 'Ed25519 public key: 32 raw bytes, standard base64 (44 characters ending in "=").', 'x-kubernetes-validations': [{ rule: `self.matches(r'${PUBLIC_KEY_REGEX}')`, message: 'publicKey must be a raw 32-byte Ed25519 key in standard base64: 44 characters ending in "="' }] satisfies CelRule[] }),
      retiredKeys: list(named('RetiredKey', obj(
        {
          publicKey: str(44, { description: 'An Ed25519 public key this partner signed with before (44 characters ending in "=").', 'x-kubernetes-validations': [{ rule: `self.matches(r'${PUBLIC_KEY_REGEX}')`, message: 'publicKey must be a raw 32-byte Ed25519 key in standard base64: 44 characters ending in "="' }] satisfies CelRule[] }),
          validUntil: time('Signatures dated at or after this time are refused under this key. After a rotation: a little after the switch (votes in flight still count). After a compromise: before the key may have leaked (later signatures are refused, history stays verifiable).'),
        },
        ['publicKey', 'validUntil'],
        { description: 'A key that no longer signs.' },
      ), 'A key the partner (or the sequencer) signed with before spec.publicKey.'), MAX_RETIRED_KEYS, { description: 'Earlier keys, for key rotation and compromise: votes and tree heads are verified with the key valid when they were signed (docs/trust-model.md "Key rotation").' }),
      tls: obj(
        {
          caSecretRef: secretRef('Secret with ca.crt that signs the partner certificate.'),
          pinnedCertSha256: str(64, { pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the partner certificate (DER), lower-case hex.' }),
        },
        [],
        { description: 'How to authenticate the partner endpoint: a CA, a pinned certificate, or both.' },
      ),
      roles: list(named('Role', { type: 'string', enum: [...ROLE_ENUM] }, 'Partner roles; sequencer marks the network\'s sequencer (tree-head key, sequencer endpoint), never a voter.'), 4, { minItems: 1, 'x-kubernetes-list-type': 'set', description: 'contributor, voter and/or consumer; or sequencer for the network\'s sequencer (never together with voter).', 'x-kubernetes-validations': [{ rule: "!('sequencer' in self && 'voter' in self)", message: 'the sequencer role cannot be combined with voter: the sequencer never votes; give the voter role to a partner PartnerNode' }] satisfies CelRule[] }),
      maxTlp: tlpSchema('Most restrictive TLP this partner may receive.'),
    },
    ['partnerId', 'organization', 'endpoint', 'publicKey', 'roles'],
    { description: 'Identity and roles of the partner.', 'x-kubernetes-validations': [{ rule: 'self.partnerId == oldSelf.partnerId', message: 'partnerId is immutable: create a new PartnerNode for a new partner' }] satisfies CelRule[] },
  ), 'A PartnerNode\'s spec.');
}

function status(): SchemaNode {
  return named('PartnerNodeStatus', obj(
    {
      reachable: { type: 'boolean', description: 'Whether the last contact with this node (a partner or the sequencer) succeeded.' },
      lastSeen: time('Last successful contact.'),
      logSize: int(0, Number.MAX_SAFE_INTEGER, { description: 'Tree size of the latest verified tree head: on the sequencer\'s PartnerNode the head this partner accepted, on a peer\'s the head it gossiped.' }),
      rootHash: str(64, { description: 'Merkle root of the partner log, hex.' }),
      lagEntries: int(0, Number.MAX_SAFE_INTEGER, { description: 'On the sequencer\'s PartnerNode: entries of its log not yet applied by this partner (0 when caught up).' }),
      lagSeconds: int(0, Number.MAX_SAFE_INTEGER, { description: 'On the sequencer\'s PartnerNode: seconds since the oldest head not yet fully applied was seen (0 when caught up).' }),
      conditions: conditions(),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the status describes.' }),
    },
    [],
    { description: 'Reachability and replication state.' },
  ), 'A PartnerNode\'s status.');
}

/** The PartnerNode kind. */
export const partnerNodeKind: KindDefinition = {
  kind: 'PartnerNode',
  plural: 'partnernodes',
  singular: 'partnernode',
  shortNames: ['pn'],
  printerColumns: [
    { name: 'Partner', type: 'string', jsonPath: '.spec.partnerId' },
    { name: 'Endpoint', type: 'string', jsonPath: '.spec.endpoint' },
    { name: 'Roles', type: 'string', jsonPath: '.spec.roles' },
    { name: 'Reachable', type: 'boolean', jsonPath: '.status.reachable' },
    { name: 'Lag', type: 'integer', jsonPath: '.status.lagEntries' },
    AGE_COLUMN,
  ],
  schema: objectSchema('A partner organization of the ThreatMesh network.', spec(), status()),
};
