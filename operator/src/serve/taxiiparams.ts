/**
 * TAXII 2.1 URL parameters of the listing endpoints (objects, manifest, an object, versions):
 * `added_after`, `limit`, `next`, `match[id|type|version|spec_version]`, parsed strictly. A
 * malformed value is a 400 that names the parameter; a limit above the server's page size is
 * lowered to it (the spec lets servers return fewer), never an error.
 */
import { parseTimestamp } from './http.ts';

/** The version selector of match[version]. */
export interface VersionMatch {
  readonly first: boolean;
  readonly last: boolean;
  readonly all: boolean;
  /** Exact `modified` timestamps (milliseconds since the epoch). */
  readonly at: ReadonlySet<number>;
}

/** Parsed listing parameters. */
export interface ListParams {
  readonly limit: number;
  readonly addedAfter?: Date;
  readonly next?: string;
  readonly ids?: readonly string[];
  readonly types?: readonly string[];
  readonly version: VersionMatch;
  readonly specVersions?: readonly string[];
}

/** A parameter error: 400 with this message. */
export class ParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParamError';
  }
}

const MAX_IDS = 100;
const STIX_ID = /^[a-z0-9][a-z0-9-]{0,249}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function single(q: URLSearchParams, name: string): string | undefined {
  const all = q.getAll(name);
  if (all.length > 1) throw new ParamError(`${name} is given ${all.length} times; give it once (lists are comma-separated)`);
  return all[0];
}

function commaList(q: URLSearchParams, name: string): string[] | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new ParamError(`${name} has an empty item; give a comma-separated list without blanks`);
  return items;
}

function limitOf(q: URLSearchParams, maxPageSize: number): number {
  const text = single(q, 'limit');
  if (text === undefined) return maxPageSize;
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) throw new ParamError(`limit must be a positive whole number, got ${JSON.stringify(text.slice(0, 40))}`);
  return Math.min(Number(text), maxPageSize);
}

function versionOf(q: URLSearchParams): VersionMatch {
  const items = commaList(q, 'match[version]') ?? ['last'];
  const at = new Set<number>();
  for (const v of items) {
    if (v === 'first' || v === 'last' || v === 'all') continue;
    const d = parseTimestamp(v);
    if (d === undefined) throw new ParamError(`match[version] items must be first, last, all or an RFC 3339 timestamp, got ${JSON.stringify(v.slice(0, 40))}`);
    at.add(d.getTime());
  }
  return { first: items.includes('first'), last: items.includes('last'), all: items.includes('all'), at };
}

function addedAfterOf(q: URLSearchParams): Date | undefined {
  const text = single(q, 'added_after');
  if (text === undefined) return undefined;
  const d = parseTimestamp(text);
  if (d === undefined) throw new ParamError(`added_after must be an RFC 3339 timestamp such as 2026-11-25T10:00:00.000Z, got ${JSON.stringify(text.slice(0, 40))}`);
  return d;
}

function idsOf(q: URLSearchParams): string[] | undefined {
  const ids = commaList(q, 'match[id]');
  if (ids !== undefined && ids.length > MAX_IDS) throw new ParamError(`match[id] lists ${ids.length} ids; ask for at most ${MAX_IDS} at a time`);
  const bad = ids?.find((id) => !STIX_ID.test(id));
  if (bad !== undefined) throw new ParamError(`match[id] item ${JSON.stringify(bad.slice(0, 80))} is not a STIX identifier (type--uuid)`);
  return ids;
}

/** Parses the listing parameters; `allowed` names the ones this endpoint takes (others are ignored, as the spec allows). */
export function parseListParams(q: URLSearchParams, maxPageSize: number, allowed: ReadonlySet<string>): ListParams {
  const addedAfter = addedAfterOf(q);
  const ids = allowed.has('match[id]') ? idsOf(q) : undefined;
  const next = single(q, 'next');
  const types = allowed.has('match[type]') ? commaList(q, 'match[type]') : undefined;
  const specVersions = commaList(q, 'match[spec_version]');
  return {
    limit: limitOf(q, maxPageSize),
    ...(addedAfter !== undefined ? { addedAfter } : {}),
    ...(next !== undefined ? { next } : {}),
    ...(ids !== undefined ? { ids } : {}),
    ...(types !== undefined ? { types } : {}),
    version: allowed.has('match[version]') ? versionOf(q) : { first: false, last: false, all: true, at: new Set() },
    ...(specVersions !== undefined ? { specVersions } : {}),
  };
}
