/**
 * Mutual TLS for the exchange: credentials from PEM material (this module never issues
 * certificates), the caller's partner identity from its verified client certificate, and
 * authorization of each call by the partner's roles in an injected directory. Extended key
 * usage is enforced both ways: a caller's certificate must carry clientAuth, a server's
 * serverAuth (a certificate without the extension, which OpenSSL accepts for any use, is refused).
 */
import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import type { DirectoryEntry, PartnerRole } from '../../domain/quorum.ts';
import { ExchangeRefusal } from './errors.ts';

/**
 * PEM material of one TLS endpoint: the CA bundle it trusts, its own certificate chain and key,
 * and optionally the CAs' revocation lists. Every CA in the bundle may issue a certificate for
 * any partner id (docs/trust-model.md "Identity"): put only the network's CAs there, and pin
 * (PartnerNode spec.tls.pinnedCertSha256) a partner whose certificate comes from elsewhere.
 */
export interface TlsMaterial {
  /** CA certificates (PEM) that issue the peers' certificates; a pinned self-signed peer certificate may be added here too (it vouches only for itself). */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Certificate revocation lists (PEM) of the CAs: a peer certificate they list fails the handshake; with them, every CA of the chain needs its CRL. @default none (no revocation check) */
  readonly crlPem?: string;
}

/** A partner in the directory: its signing key and roles, optionally a pinned certificate (SHA-256 fingerprint as node prints it, `AB:CD:...`). */
export type PartnerEntry = DirectoryEntry;

/** Who called: the partner id (certificate subject CN) and the certificate's SHA-256 fingerprint. */
export interface PeerIdentity {
  readonly partnerId: string;
  readonly fingerprint256: string;
}

/** What a call does, for authorization: contributors propose, voters vote and list pending rounds, every known partner reads. */
export type ExchangeAction = 'propose' | 'vote' | 'read';

const REQUIRED_ROLE: Readonly<Record<ExchangeAction, PartnerRole | undefined>> = { propose: 'contributor', vote: 'voter', read: undefined };

/** Extended key usage OID id-kp-clientAuth (RFC 5280 4.2.1.12). */
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Extended key usage OID id-kp-serverAuth. */
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** Why `cert` may not be used for `purpose` (its extended key usage lacks the OID), or undefined when it may. */
export function keyUsageProblem(cert: Pick<PeerCertificate, 'ext_key_usage' | 'subject'>, purpose: 'clientAuth' | 'serverAuth'): string | undefined {
  const oid = purpose === 'clientAuth' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  const usages: readonly string[] | undefined = cert.ext_key_usage;
  if (usages?.includes(oid)) return undefined;
  const has = usages === undefined || usages.length === 0 ? 'no extended key usage' : `extended key usage ${usages.join(', ')}`;
  const cn = commonName(cert as PeerCertificate) ?? '(no CN)';
  return `the certificate of ${cn} has ${has}, not ${purpose} (${oid}); issue it with extendedKeyUsage=${purpose}${purpose === 'clientAuth' ? ' (serverAuth,clientAuth for a partner that also serves)' : ''}`;
}

/**
 * The client's check of the server certificate: the host name as Node checks it, then the
 * serverAuth extended key usage. Returns the Error that fails the TLS connection, or undefined.
 */
export function checkExchangeServer(hostname: string, cert: PeerCertificate): Error | undefined {
  const name = checkServerIdentity(hostname, cert);
  if (name !== undefined) return name;
  const usage = keyUsageProblem(cert, 'serverAuth');
  return usage === undefined ? undefined : new Error(`refusing the exchange server: ${usage}`);
}

/** Server credentials that require and verify a client certificate issued by `caPem` (and not revoked by `crlPem`). */
export function serverCredentials(m: TlsMaterial): grpc.ServerCredentials {
  if (m.crlPem === undefined) return grpc.ServerCredentials.createSsl(Buffer.from(m.caPem), [{ cert_chain: Buffer.from(m.certPem), private_key: Buffer.from(m.keyPem) }], true);
  return new RevocationCheckingServerCredentials(m, m.crlPem);
}

// createSsl has no place for CRLs; the credentials' constructor takes the secure-context options Node passes to OpenSSL, crl included.
class RevocationCheckingServerCredentials extends grpc.ServerCredentials {
  constructor(m: TlsMaterial, crlPem: string) {
    super({ requestCert: true, rejectUnauthorized: true }, { ca: m.caPem, cert: m.certPem, key: m.keyPem, crl: crlPem });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Client credentials presenting this partner's certificate and verifying the server against `caPem` (and `crlPem`), its host name and its serverAuth usage ({@link checkExchangeServer}). */
export function channelCredentials(m: TlsMaterial): grpc.ChannelCredentials {
  if (m.crlPem === undefined) return grpc.credentials.createSsl(Buffer.from(m.caPem), Buffer.from(m.keyPem), Buffer.from(m.certPem), { checkServerIdentity: checkExchangeServer });
  const context = createSecureContext({ ca: m.caPem, cert: m.certPem, key: m.keyPem, crl: m.crlPem });
  return grpc.credentials.createFromSecureContext(context, { checkServerIdentity: checkExchangeServer });
}

/**
 * The identity in a verified peer certificate: its subject CN is the partner id. Throws
 * {@link ExchangeRefusal} (unauthenticated) when the call carries no verified certificate, one
 * without the clientAuth extended key usage (`not-a-client-certificate`), or one without a CN.
 */
export function peerIdentity(auth: { readonly sslPeerCertificate?: PeerCertificate } | null): PeerIdentity {
  const cert: PeerCertificate | undefined = auth?.sslPeerCertificate;
  if (cert === undefined) throw new ExchangeRefusal('unauthenticated', 'no-client-certificate', 'the call carries no verified client certificate; connect with mutual TLS using a certificate from the network CA');
  const usage = keyUsageProblem(cert, 'clientAuth');
  if (usage !== undefined) throw new ExchangeRefusal('unauthenticated', 'not-a-client-certificate', `refusing the client certificate: ${usage}`);
  const cn = commonName(cert);
  if (cn === undefined || cn === '') throw new ExchangeRefusal('unauthenticated', 'no-client-certificate', 'the client certificate has no subject CN; issue it with CN=<partner id>');
  return { partnerId: cn, fingerprint256: cert.fingerprint256 };
}

function commonName(cert: PeerCertificate): string | undefined {
  const cn: unknown = (cert.subject as unknown as Record<string, unknown> | undefined)?.['CN'];
  return typeof cn === 'string' ? cn : Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : undefined;
}

/**
 * Authorizes `action` for the caller: it must be in the directory, present the pinned
 * certificate when one is named, and hold the action's role. Returns its directory entry.
 */
export function authorize(directory: ReadonlyMap<string, PartnerEntry>, who: PeerIdentity, action: ExchangeAction): PartnerEntry {
  const entry = directory.get(who.partnerId);
  if (entry === undefined) throw new ExchangeRefusal('permission-denied', 'unknown-partner', `partner ${JSON.stringify(who.partnerId)} (from its certificate CN) is not in this node's partner directory; add a PartnerNode for it`);
  if (entry.certFingerprint256 !== undefined && entry.certFingerprint256.toUpperCase() !== who.fingerprint256.toUpperCase()) {
    throw new ExchangeRefusal('permission-denied', 'pinned-certificate-mismatch', `partner ${who.partnerId} presented certificate ${who.fingerprint256}, not the pinned ${entry.certFingerprint256}`);
  }
  const role = REQUIRED_ROLE[action];
  if (role !== undefined && !entry.roles.includes(role)) {
    throw new ExchangeRefusal('permission-denied', 'missing-role', `partner ${who.partnerId} has roles [${entry.roles.join(', ')}]; ${action} needs the ${role} role`);
  }
  return entry;
}
