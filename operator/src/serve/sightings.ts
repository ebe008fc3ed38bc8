/**
 * The sightings API of the partner's HTTPS server, for peer partners and edge sites:
 * - `GET /sightings/v1/indicators`: the matcher set (active, not expired, at or below the
 *   caller's TLP) as NDJSON `{type, value, digest}` lines, with a strong ETag (`304` on
 *   If-None-Match): what `threatmesh edge` scans with.
 * - `POST /sightings/v1/reports`: a signed sighting report (match/sharing.ts) from a `sighter`
 *   consumer, made under its own name and signed with the key its configuration pins; verified
 *   sightings of indicators this partner holds are stored (store/receivedsightings.ts), others
 *   are counted as ignored. A refused report stores nothing.
 * - `GET /sightings/v1/aggregate?digest=<hex>[,<hex>…]` (sighters): who saw each indicator, how
 *   often, first and last seen, across every party that reported to this partner and itself.
 * Every answer is audited (api `sightings`) before it leaves.
 */
import { createHash } from 'node:crypto';
import { PublicKey } from '../domain/signature.ts';
import { verifySightingReport } from '../match/sharing.ts';
import type { ActiveIndicator } from '../store/replicaread.ts';
import type { ReceivedBucket, SightingAggregate } from '../store/receivedsightings.ts';
import type { AuditLog } from './audit.ts';
import type { Consumer } from './config.ts';
import { taxiiError, type Reply, type ServeRequest } from './http.ts';

/** What the sightings API reads and writes. */
export interface SightingsDeps {
  /** This partner's id (its own sightings in the aggregate). */
  readonly partnerId: string;
  /** The active, non-expired indicators (store/replicaread.ts). */
  readonly active: (now: Date) => AsyncIterable<ActiveIndicator>;
  /** Which of `digests` this partner holds (any state). */
  readonly known: (digests: readonly string[]) => Promise<ReadonlySet<string>>;
  readonly store: {
    store(sender: string, reportedAt: Date, buckets: readonly ReceivedBucket[]): Promise<number>;
    aggregate(digests: readonly string[], self: string): Promise<Map<string, SightingAggregate>>;
  };
  readonly audit: AuditLog;
  readonly now: () => Date;
}

/** Who is calling, as the server authenticated it. */
export interface SightingsCaller {
  readonly consumer: Consumer;
  readonly via: 'token' | 'certificate';
}

const json = (status: number, body: unknown): Reply => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function matcherSet(deps: SightingsDeps, caller: SightingsCaller, req: ServeRequest): Promise<Reply & { count: number }> {
  const allowed = new Set<string>(caller.consumer.tlps);
  const lines: string[] = [];
  for await (const i of deps.active(deps.now())) {
    if (allowed.has(i.tlp ?? 'clear')) lines.push(JSON.stringify({ type: i.type, value: i.value, digest: i.digest }));
  }
  const body = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  if (req.headers['if-none-match'] === etag) return { status: 304, headers: { etag }, body: '', count: 0 };
  return { status: 200, headers: { 'content-type': 'application/x-ndjson', etag }, body, count: lines.length };
}

async function receive(deps: SightingsDeps, caller: SightingsCaller, req: ServeRequest): Promise<Reply & { count: number }> {
  const c = caller.consumer;
  if (!c.roles.has('sighter') || c.sightingKey === undefined) return { ...taxiiError(403, `${c.name} may not send sightings: give it role sighter and its sightingKey in the serve config`), count: 0 };
  let body: unknown;
  try {
    body = JSON.parse((req.body ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    return { ...json(400, { error: 'malformed', message: 'the body is not JSON' }), count: 0 };
  }
  const v = verifySightingReport(body, { id: c.name, key: PublicKey.fromRawBase64(c.sightingKey) }, deps.now());
  if (!v.ok) return { ...json(v.reason === 'sender-mismatch' || v.reason === 'bad-signature' ? 403 : 400, { error: v.reason, message: v.message }), count: 0 };
  const known = await deps.known([...new Set(v.sightings.map((s) => s.digest))]);
  const mine = v.sightings.filter((s) => known.has(s.digest));
  const stored = await deps.store.store(c.name, new Date(v.report.createdAt), mine);
  return { ...json(200, { accepted: mine.length, stored, ignored: v.sightings.length - mine.length }), count: mine.length };
}

async function aggregate(deps: SightingsDeps, caller: SightingsCaller, req: ServeRequest): Promise<Reply & { count: number }> {
  if (!caller.consumer.roles.has('sighter')) return { ...taxiiError(403, 'the aggregate is for sighters (peer partners and edge sites)'), count: 0 };
  const digests = (req.query.get('digest') ?? '').split(',').filter((d) => d !== '');
  if (digests.length === 0 || digests.length > 1000 || digests.some((d) => !/^[0-9a-f]{64}$/.test(d))) return { ...json(400, { error: 'malformed', message: 'digest must list 1 to 1000 hex SHA-256 digests, comma-separated' }), count: 0 };
  const agg = await deps.store.aggregate(digests, deps.partnerId);
  return { ...json(200, { aggregates: [...agg.values()] }), count: agg.size };
}

/** Answers `/sightings/v1/...` for an authenticated caller. */
export async function handleSightings(deps: SightingsDeps, caller: SightingsCaller, req: ServeRequest): Promise<Reply> {
  const [, version, what] = req.segments;
  const route = `${req.method} ${version ?? ''}/${what ?? ''}`;
  const handler = route === 'GET v1/indicators' ? matcherSet : route === 'POST v1/reports' ? receive : route === 'GET v1/aggregate' ? aggregate : undefined;
  if (handler === undefined || req.segments.length !== 3) return taxiiError(404, 'no such sightings resource: GET /sightings/v1/indicators, POST /sightings/v1/reports, GET /sightings/v1/aggregate?digest=…');
  const reply = await handler(deps, caller, req);
  await deps.audit.record({ at: deps.now(), identity: caller.consumer.name, via: caller.via, api: 'sightings', action: route, resource: what ?? '', count: reply.count, status: reply.status });
  return { status: reply.status, headers: reply.headers, body: reply.body };
}
