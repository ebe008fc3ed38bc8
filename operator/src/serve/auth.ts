/**
 * Authentication of a request to the partner's HTTPS server: a bearer token (looked up by its
 * SHA-256) or an mTLS client certificate verified against the client CA (looked up by SHA-256
 * fingerprint, then by subject CN). A request that presents a credential which does not map to
 * a consumer is refused as firmly as one that presents none: 401, never data. Authorization
 * (roles, TLP) is the caller's next step.
 */
import { normalFingerprint, tokenHash, type Consumer, type ServeConfig, type ServeRole } from './config.ts';

/** What authentication looks at. */
export interface Credentials {
  /** The Authorization header, if any. */
  readonly authorization?: string | undefined;
  /** The client certificate, when one was presented and chains to the client CA. */
  readonly verifiedCert?: { readonly subjectCN?: string | undefined; readonly fingerprint256: string } | undefined;
  /** True when a client certificate was presented but did not verify. */
  readonly unverifiedCert?: boolean;
}

/** The outcome: the consumer, or why not (for a 401 body). */
export type AuthResult = { readonly ok: true; readonly consumer: Consumer; readonly via: 'token' | 'certificate' } | { readonly ok: false; readonly message: string };

/** The WWW-Authenticate challenge sent with every 401. */
export const CHALLENGE = 'Bearer realm="threatmesh"';

/** Authenticates `creds` against `config`. */
export function authenticate(config: ServeConfig, creds: Credentials): AuthResult {
  const header = creds.authorization;
  if (header !== undefined && header !== '') {
    const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header.trim());
    if (m === null) return { ok: false, message: 'the Authorization header must be "Bearer <token>"' };
    const consumer = config.byTokenHash.get(tokenHash(m[1] ?? ''));
    return consumer === undefined ? { ok: false, message: 'the bearer token is not valid' } : { ok: true, consumer, via: 'token' };
  }
  const cert = creds.verifiedCert;
  if (cert !== undefined) {
    const consumer = config.byFingerprint.get(normalFingerprint(cert.fingerprint256)) ?? (cert.subjectCN === undefined ? undefined : config.bySubject.get(cert.subjectCN));
    return consumer === undefined ? { ok: false, message: 'the client certificate is not registered for any consumer' } : { ok: true, consumer, via: 'certificate' };
  }
  if (creds.unverifiedCert === true) return { ok: false, message: 'the client certificate does not chain to the client CA' };
  return { ok: false, message: 'authenticate with a bearer token or a client certificate' };
}

/** True when `consumer` holds `role` (contributors also read). */
export function hasRole(consumer: Consumer, role: ServeRole): boolean {
  return consumer.roles.has(role) || (role === 'consumer' && consumer.roles.has('contributor'));
}
