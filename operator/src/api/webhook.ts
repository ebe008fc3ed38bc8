/**
 * The validating admission webhook for ThreatIndicators (admission.k8s.io/v1), served over HTTPS
 * by the operator. It refuses malformed or non-normalized indicators, names that are not the
 * indicator's digest name, any spec change, and status writes whose phase, counts or new votes
 * are not proven by valid signatures from known voters. Messages say what to do instead.
 */
import { createServer, type Server } from 'node:https';
import { outlastClientPools } from '../runtime/keepalive.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log.ts';
import { indicatorObjectName } from '../domain/canonical.ts';
import { describeIgnored, evaluateIndicator, specProblem, type AdmissionPolicy, type Evaluation } from './admission.ts';
import type { PartnerEntry } from './partners.ts';
import type { KindValidator } from './validate.ts';
import type { ThreatIndicator, VoteRecord } from './types.ts';
import { WEBHOOK_PATH } from './manifests.ts';

/** The request half of an AdmissionReview. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  subResource?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  name?: string;
  namespace?: string;
  object?: unknown;
  oldObject?: unknown;
}

/** The response half of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
}

/** What the webhook needs to judge a write. */
export interface WebhookDeps {
  readonly validator: KindValidator;
  /** The current partners (voters and others), e.g. from the PartnerNode informer. */
  readonly partners: () => readonly PartnerEntry[];
  readonly now: () => Date;
  readonly policy?: AdmissionPolicy;
}

const allow = (uid: string, warnings?: string[]): AdmissionResponse => ({ uid, allowed: true, ...(warnings?.length ? { warnings } : {}) });
const deny = (uid: string, message: string): AdmissionResponse => ({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } });

function voteKey(v: VoteRecord): string {
  return JSON.stringify([v.partnerId, v.decision, v.signedAt, v.signature, v.reason ?? null]);
}

/** Votes in `next` that were not in `old` byte for byte: only these are judged, so stored votes of a since-removed partner do not block later status writes. */
function newVotes(next: ThreatIndicator, old: ThreatIndicator | undefined): VoteRecord[] {
  const before = new Set((old?.status?.votes ?? []).map(voteKey));
  return (next.status?.votes ?? []).filter((v) => !before.has(voteKey(v)));
}

const REVOCATION_HOWTO = 'a ThreatIndicator is Revoked only when status.revocation holds the certificate of a REVOKE entry of the replicated log (the proposer\'s revocation signature and a quorum of revoke votes signed by PartnerNodes with the voter role); let the operator apply it from the log';

/** Refuses removing or rewriting a revocation certificate: Revoked is final for an object (a later ADD entry re-admits the indicator by recreating it). */
function revocationChangeProblem(ti: ThreatIndicator, old: ThreatIndicator | undefined): string | undefined {
  const before = old?.status?.revocation;
  if (before === undefined) return undefined;
  const after = ti.status?.revocation;
  if (after !== undefined && (isDeepStrictEqual(before, after) || after.logIndex > before.logIndex)) return undefined;
  return `status.revocation (log index ${before.logIndex}) cannot be removed or changed: a revocation is final for this object; a later ADD entry of the replicated log re-admits the indicator (the operator then recreates the object)`;
}

/** Refuses a revocation certificate that is not genuine, and a phase Revoked it does not prove. */
function revocationProblem(ti: ThreatIndicator, old: ThreatIndicator | undefined, ev: Evaluation): string | undefined {
  const changed = ti.status?.revocation !== undefined && !isDeepStrictEqual(ti.status.revocation, old?.status?.revocation);
  if (changed && ev.revocation?.forged !== undefined) return `status.revocation is not a valid certificate (${ev.revocation.forged}); ${REVOCATION_HOWTO}`;
  if (ti.status?.phase === 'Revoked' && ev.phase !== 'Revoked') {
    return `status.phase Revoked is not proven: ${ev.revocation?.message ?? 'status.revocation is missing'}; ${REVOCATION_HOWTO}`;
  }
  return undefined;
}

function statusProblem(ti: ThreatIndicator, old: ThreatIndicator | undefined, deps: WebhookDeps): string | undefined {
  const status = ti.status;
  if (!status) return revocationChangeProblem(ti, old);
  const ev = evaluateIndicator(ti, deps.partners(), deps.now(), deps.policy);
  const revoked = revocationChangeProblem(ti, old) ?? revocationProblem(ti, old, ev);
  if (revoked !== undefined) return revoked;
  const fresh = new Set(newVotes(ti, old).map((v) => v.partnerId));
  const forged = ev.ignored.filter((i) => fresh.has(i.partnerId) && (i.reason === 'bad-signature' || i.reason === 'unknown-partner' || i.reason === 'not-a-voter' || i.reason === 'wrong-digest'));
  if (forged.length > 0) {
    return `status.votes holds votes that are not signed by a known voter (${describeIgnored(forged)}): each vote must be signed with the Ed25519 key of a PartnerNode with the voter role, over this indicator's digest; remove those votes`;
  }
  const claimed = status.phase;
  if (claimed !== undefined && claimed !== 'Proposed' && claimed !== ev.phase) {
    return `status.phase ${claimed} is not proven by the signed votes (they give ${ev.phase}: ${ev.message}); add signed votes to status.votes and let the operator set the phase`;
  }
  const q = status.quorum;
  if (q && ((q.approvals ?? 0) > ev.approvals || (q.rejections ?? 0) > ev.rejections)) {
    return `status.quorum claims ${q.approvals ?? 0} approvals and ${q.rejections ?? 0} rejections but only ${ev.approvals} and ${ev.rejections} are signed by known voters; let the operator count the votes`;
  }
  return undefined;
}

function objectProblem(req: AdmissionRequest, ti: ThreatIndicator, old: ThreatIndicator | undefined, deps: WebhookDeps): string | undefined {
  const checked = deps.validator.validate(ti, old);
  if (!checked.ok) return `malformed ThreatIndicator: ${checked.errors.join('; ')}`;
  const spec = specProblem(ti);
  if (spec) return spec;
  if (req.operation === 'CREATE') {
    const want = indicatorObjectName({ type: ti.spec.type, value: ti.spec.value });
    if (ti.metadata.name !== want) return `metadata.name must be ${want}, the name derived from the indicator's digest, so the same indicator is one object at every partner ("threatmesh normalize ${ti.spec.type} <value>" prints it)`;
  }
  if (old && !isDeepStrictEqual(old.spec, ti.spec)) return 'spec is immutable: delete the ThreatIndicator and create a new one';
  return undefined;
}

/** Judges one AdmissionRequest. Pure apart from signature verification and the injected clock. */
export function reviewThreatIndicator(req: AdmissionRequest, deps: WebhookDeps): AdmissionResponse {
  if (req.kind.kind !== 'ThreatIndicator' || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) return allow(req.uid);
  const ti = req.object as ThreatIndicator | undefined;
  if (!ti?.spec || !ti.metadata) return deny(req.uid, 'the request carries no ThreatIndicator with a spec');
  const old = req.operation === 'UPDATE' ? (req.oldObject as ThreatIndicator | undefined) : undefined;
  try {
    const problem = objectProblem(req, ti, old, deps) ?? statusProblem(ti, old, deps);
    return problem ? deny(req.uid, problem) : allow(req.uid);
  } catch (err) {
    return deny(req.uid, `could not check the ThreatIndicator: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const MAX_BODY = 3 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new Error(`request body larger than ${MAX_BODY} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Options of the webhook HTTPS server. */
export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM serving certificate and key. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly deps: WebhookDeps;
  readonly log: Logger;
  /** Hears every answered request: URL path and HTTP status (the requests metric). */
  readonly onResponse?: (path: string, code: number) => void;
}

/** A running webhook server. */
export interface WebhookServer {
  readonly port: number;
  close(): Promise<void>;
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions): Promise<void> {
  if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== WEBHOOK_PATH) {
    send(res, 404, { message: `POST AdmissionReviews to ${WEBHOOK_PATH}` });
    return;
  }
  let review: { apiVersion?: string; request?: AdmissionRequest };
  try {
    review = JSON.parse(await readBody(req)) as typeof review;
  } catch (err) {
    send(res, 400, { message: `not a JSON AdmissionReview: ${err instanceof Error ? err.message : String(err)}` });
    return;
  }
  if (!review.request?.uid) {
    send(res, 400, { message: 'AdmissionReview without request.uid' });
    return;
  }
  const response = reviewThreatIndicator(review.request, opts.deps);
  if (!response.allowed) opts.log.info('admission denied', { name: review.request.name, namespace: review.request.namespace, subResource: review.request.subResource, message: response.status?.message });
  send(res, 200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}

/** Starts the HTTPS webhook server; resolves once it listens. */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const server: Server = outlastClientPools(createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2' }, (req, res) => {
    if (opts.onResponse) res.once('finish', () => opts.onResponse?.((req.url ?? '').split('?')[0] ?? '', res.statusCode));
    handle(req, res, opts).catch((err: unknown) => {
      opts.log.error('webhook request failed', { err });
      if (!res.headersSent) send(res, 500, { message: 'internal error' });
    });
  }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
