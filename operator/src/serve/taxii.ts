/**
 * TAXII 2.1 views (OASIS TAXII 2.1 §4-5), thin over the backend port (record.ts
 * IndicatorReader), medallion-style: discovery (`/taxii2/`), the API root (`/api/`), status,
 * collections, objects (GET, and POST by contributors, which become signed proposals, never
 * admissions), an object, its versions, and the manifest. The consumer is already
 * authenticated; these views authorize (roles, TLP through the collection catalog), negotiate
 * media types and write the audit log. Errors are TAXII error resources.
 */
import type { AuditLog } from './audit.ts';
import type { CollectionCatalog, ConsumerCollection } from './collections.ts';
import type { Consumer, ServeConfig } from './config.ts';
import { hasRole } from './auth.ts';
import { CursorError, queryFingerprint } from './cursor.ts';
import { TAXII_MEDIA_TYPE, acceptsTaxii, isTaxiiContentType, taxiiError, taxiiJson, taxiiTimestamp, type Reply, type ServeRequest } from './http.ts';
import type { IndicatorReader } from './record.ts';
import { statusResource, type StatusStore, type StoredStatus } from './status.ts';
import { STIX_MEDIA_TYPE, dateAddedOf, stixOfRow, versionOf } from './stixview.ts';
import { listVersions, type Listing } from './taxiilist.ts';
import { ParamError, parseListParams, type ListParams } from './taxiiparams.ts';

/** Turns POSTed objects into proposals (post.ts). */
export interface ProposalPort {
  /** Proposes the objects at the collection's TLP and returns the saved status. */
  submit(consumer: Consumer, collection: ConsumerCollection, objects: readonly unknown[]): Promise<StoredStatus>;
  /** The status with pending objects re-checked against the network's decisions. */
  refresh(status: StoredStatus): Promise<StoredStatus>;
}

/** What the views read and write. */
export interface TaxiiDeps {
  readonly config: Pick<ServeConfig, 'title' | 'maxPageSize' | 'maxContentLength'>;
  readonly reader: IndicatorReader;
  readonly catalog: CollectionCatalog;
  readonly audit: AuditLog;
  readonly statuses: StatusStore;
  /** Absent when the server has no signing key: POSTs are refused (403). */
  readonly proposals?: ProposalPort;
  readonly now: () => Date;
}

/** The authenticated caller. */
export interface Caller {
  readonly consumer: Consumer;
  readonly via: 'token' | 'certificate';
}

/** Path of the discovery resource and of the one API root. */
export const DISCOVERY_PATH = '/taxii2/';
/** Path of the API root. */
export const API_ROOT_PATH = '/api/';

const LIST_PARAMS = new Set(['added_after', 'limit', 'next', 'match[id]', 'match[type]', 'match[version]', 'match[spec_version]']);
const OBJECT_PARAMS = new Set(['added_after', 'limit', 'next', 'match[version]', 'match[spec_version]']);
const VERSIONS_PARAMS = new Set(['added_after', 'limit', 'next', 'match[spec_version]']);

/** Handles one TAXII request (segments start at `taxii2` or `api`). */
export async function handleTaxii(deps: TaxiiDeps, caller: Caller, req: ServeRequest): Promise<Reply> {
  if (!acceptsTaxii(req.headers['accept'])) return taxiiError(406, `send Accept: ${TAXII_MEDIA_TYPE}; this server speaks TAXII 2.1 only`);
  if (!hasRole(caller.consumer, 'consumer')) return taxiiError(403, `consumer ${caller.consumer.name} has no role that may read`);
  try {
    return await route(deps, caller, req);
  } catch (err) {
    if (err instanceof ParamError || err instanceof CursorError) return taxiiError(400, err.message);
    throw err;
  }
}

async function route(deps: TaxiiDeps, caller: Caller, req: ServeRequest): Promise<Reply> {
  const [root, kind, id, ...rest] = req.segments;
  if (root === 'taxii2' && kind === undefined) return only('GET', req, () => audited(deps, caller, { action: 'discovery', resource: '', count: 1 }, discovery(deps)));
  if (root !== 'api') return taxiiError(404, `no TAXII resource here; start at ${DISCOVERY_PATH}`);
  if (kind === undefined) return only('GET', req, () => audited(deps, caller, { action: 'api-root', resource: '', count: 1 }, apiRoot(deps)));
  if (kind === 'status' && id !== undefined && rest.length === 0) return only('GET', req, () => status(deps, caller, id));
  if (kind !== 'collections' || rest.length > 3) return taxiiError(404, `no TAXII resource here; the API root is ${API_ROOT_PATH}`);
  if (id === undefined) return only('GET', req, () => collections(deps, caller));
  const coll = await deps.catalog.find(caller.consumer, id);
  if (coll === undefined) return taxiiError(404, `no collection ${id} for consumer ${caller.consumer.name}; list them at ${API_ROOT_PATH}collections/`);
  return routeCollection(deps, caller, coll, req, rest);
}

async function routeCollection(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, req: ServeRequest, rest: readonly string[]): Promise<Reply> {
  const [sub, objectId, leaf] = rest;
  if (sub === undefined) return only('GET', req, () => audited(deps, caller, { action: 'collection', resource: coll.def.alias, count: 1 }, taxiiJson(200, collectionResource(coll))));
  if (sub === 'manifest' && objectId === undefined) return only('GET', req, () => manifest(deps, caller, coll, req));
  if (sub !== 'objects') return taxiiError(404, `collections have objects/ and manifest/; ${sub} is not one of them`);
  if (objectId === undefined) {
    if (req.method === 'POST') return post(deps, caller, coll, req);
    return only('GET, POST', req, () => objects(deps, caller, coll, req));
  }
  if (leaf === undefined) return only('GET', req, () => object(deps, caller, coll, objectId, req));
  if (leaf !== 'versions') return taxiiError(404, `an object has versions/ only; ${leaf} is not a resource`);
  return only('GET', req, () => versions(deps, caller, coll, objectId, req));
}

/** Runs `view` for a GET; any other method is a 405 naming `allow`. */
function only(allow: string, req: ServeRequest, view: () => Reply | Promise<Reply>): Reply | Promise<Reply> {
  return req.method === 'GET' ? view() : taxiiError(405, `this resource supports ${allow} only`, undefined, { allow });
}

interface Read {
  readonly action: string;
  readonly resource: string;
  readonly count: number;
}

async function audited(deps: TaxiiDeps, caller: Caller, read: Read, reply: Reply): Promise<Reply> {
  await deps.audit.record({ at: deps.now(), identity: caller.consumer.name, via: caller.via, api: 'taxii', ...read, status: reply.status });
  return reply;
}

function discovery(deps: TaxiiDeps): Reply {
  return taxiiJson(200, { title: deps.config.title, description: 'ThreatMesh partner TAXII 2.1 server: quorum-signed indicators of the network', default: API_ROOT_PATH, api_roots: [API_ROOT_PATH] });
}

function apiRoot(deps: TaxiiDeps): Reply {
  return taxiiJson(200, { title: `${deps.config.title} indicators`, description: 'Indicators admitted by the network, per TLP level and per source feed', versions: [TAXII_MEDIA_TYPE], max_content_length: deps.config.maxContentLength });
}

function collectionResource(c: ConsumerCollection): Record<string, unknown> {
  return { id: c.def.id, title: c.def.title, description: c.def.description, alias: c.def.alias, can_read: true, can_write: c.canWrite, media_types: [STIX_MEDIA_TYPE] };
}

async function collections(deps: TaxiiDeps, caller: Caller): Promise<Reply> {
  const list = await deps.catalog.list(caller.consumer);
  return audited(deps, caller, { action: 'collections', resource: '', count: list.length }, taxiiJson(200, { collections: list.map(collectionResource) }));
}

async function status(deps: TaxiiDeps, caller: Caller, id: string): Promise<Reply> {
  const stored = await deps.statuses.get(id, caller.consumer.name);
  if (stored === undefined) return taxiiError(404, `no status ${id} for consumer ${caller.consumer.name}`);
  const fresh = stored.pendings.length > 0 && deps.proposals !== undefined ? await deps.proposals.refresh(stored) : stored;
  return audited(deps, caller, { action: 'status', resource: id, count: 1 }, taxiiJson(200, statusResource(fresh)));
}

function fingerprintOf(kind: string, coll: ConsumerCollection, p: ListParams, objectId = ''): string {
  const v = p.version;
  return queryFingerprint([kind, coll.def.id, coll.tlps.join(','), objectId, p.addedAfter?.toISOString() ?? '', (p.ids ?? []).join(','), (p.types ?? ['*']).join(','),
    `${v.first}${v.last}${v.all}${[...v.at].join(',')}`, (p.specVersions ?? ['*']).join(',')]);
}

function pageHeaders(l: Listing): Record<string, string> {
  const first = l.rows[0];
  const last = l.rows[l.rows.length - 1];
  if (first === undefined || last === undefined) return {};
  return { 'x-taxii-date-added-first': taxiiTimestamp(dateAddedOf(first)), 'x-taxii-date-added-last': taxiiTimestamp(dateAddedOf(last)) };
}

function envelope(l: Listing, key: string, items: readonly unknown[]): Record<string, unknown> {
  return { more: l.more, ...(l.next === undefined ? {} : { next: l.next }), ...(items.length === 0 ? {} : { [key]: items }) };
}

async function objects(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, req: ServeRequest): Promise<Reply> {
  const p = parseListParams(req.query, deps.config.maxPageSize, LIST_PARAMS);
  const l = await listVersions({ reader: deps.reader, collection: coll, fingerprint: fingerprintOf('objects', coll, p) }, p);
  const objs = l.rows.map(stixOfRow).filter((o) => o !== undefined);
  return audited(deps, caller, { action: 'objects', resource: coll.def.alias, count: objs.length }, taxiiJson(200, envelope(l, 'objects', objs), pageHeaders(l)));
}

async function manifest(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, req: ServeRequest): Promise<Reply> {
  const p = parseListParams(req.query, deps.config.maxPageSize, LIST_PARAMS);
  const l = await listVersions({ reader: deps.reader, collection: coll, fingerprint: fingerprintOf('manifest', coll, p) }, p);
  const items = l.rows.filter((r) => stixOfRow(r) !== undefined).map((r) => ({ id: stixOfRow(r)?.id, date_added: taxiiTimestamp(dateAddedOf(r)), version: versionOf(r), media_type: STIX_MEDIA_TYPE }));
  return audited(deps, caller, { action: 'manifest', resource: coll.def.alias, count: items.length }, taxiiJson(200, envelope(l, 'objects', items), pageHeaders(l)));
}

async function object(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, objectId: string, req: ServeRequest): Promise<Reply> {
  const p = parseListParams(req.query, deps.config.maxPageSize, OBJECT_PARAMS);
  const l = await listVersions({ reader: deps.reader, collection: coll, fingerprint: fingerprintOf('object', coll, p, objectId), objectId }, p);
  const objs = l.rows.map(stixOfRow).filter((o) => o !== undefined);
  if (objs.length === 0 && p.next === undefined && !(await exists(deps, coll, objectId))) return taxiiError(404, `no object ${objectId} in collection ${coll.def.alias}`);
  return audited(deps, caller, { action: 'object', resource: objectId, count: objs.length }, taxiiJson(200, envelope(l, 'objects', objs), pageHeaders(l)));
}

async function exists(deps: TaxiiDeps, coll: ConsumerCollection, objectId: string): Promise<boolean> {
  const r = await deps.reader.byStixId(objectId, coll.tlps);
  return r !== undefined && (coll.def.source === undefined || r.meta?.source === coll.def.source);
}

async function versions(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, objectId: string, req: ServeRequest): Promise<Reply> {
  const p = parseListParams(req.query, deps.config.maxPageSize, VERSIONS_PARAMS);
  if (!(await exists(deps, coll, objectId))) return taxiiError(404, `no object ${objectId} in collection ${coll.def.alias}`);
  const l = await listVersions({ reader: deps.reader, collection: coll, fingerprint: fingerprintOf('versions', coll, p, objectId), objectId }, p);
  const list = l.rows.map(versionOf);
  return audited(deps, caller, { action: 'versions', resource: objectId, count: list.length }, taxiiJson(200, { more: l.more, ...(l.next === undefined ? {} : { next: l.next }), ...(list.length === 0 ? {} : { versions: list }) }, pageHeaders(l)));
}

async function post(deps: TaxiiDeps, caller: Caller, coll: ConsumerCollection, req: ServeRequest): Promise<Reply> {
  if (!hasRole(caller.consumer, 'contributor')) return taxiiError(403, `consumer ${caller.consumer.name} may read but not write: it needs the contributor role`);
  if (!coll.canWrite) return taxiiError(403, `collection ${coll.def.alias} takes no objects; POST to a tlp-* collection`);
  if (deps.proposals === undefined) return taxiiError(403, 'this server has no signing key, so it cannot propose; start threatmesh serve with --signing-key');
  if (!isTaxiiContentType(req.headers['content-type'])) return taxiiError(415, `send Content-Type: ${TAXII_MEDIA_TYPE} with a TAXII envelope`);
  const body = req.body ?? Buffer.alloc(0);
  if (body.length > deps.config.maxContentLength) return taxiiError(413, `the body is ${body.length} bytes; the API root's max_content_length is ${deps.config.maxContentLength}`);
  const objs = envelopeObjects(body);
  if (typeof objs === 'string') return taxiiError(422, objs);
  const saved = await deps.proposals.submit(caller.consumer, coll, objs);
  return audited(deps, caller, { action: 'add-objects', resource: coll.def.alias, count: objs.length }, taxiiJson(202, statusResource(saved)));
}

function envelopeObjects(body: Buffer): unknown[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body is not JSON; send a TAXII envelope {"objects":[...]}';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'the body must be a TAXII envelope object {"objects":[...]}';
  const objs = (parsed as { objects?: unknown }).objects;
  if (!Array.isArray(objs) || objs.length === 0) return 'the envelope has no "objects" list; send at least one STIX object';
  return objs as unknown[];
}
