/** Fixture builders for the serve tests: records, consumers, a configured memory server. */
import { indicatorDigest } from '../domain/canonical.ts';
import type { Indicator } from '../domain/indicator.ts';
import { MemoryAuditLog } from './audit.ts';
import { CollectionCatalog } from './collections.ts';
import { loadServeConfig, validateServeConfig, type Consumer, type ServeConfig } from './config.ts';
import type { ExportDeps } from './exports.ts';
import { MemoryIndicatorReader } from './memory.ts';
import type { ServedRecord } from './record.ts';
import { MemoryStatusStore } from './status.ts';
import type { Caller, ProposalPort, TaxiiDeps } from './taxii.ts';
import { tlpsUpTo, type Tlp } from './tlp.ts';

/** A record of a domain `name` admitted at `index`; `over` sets anything else. */
export function rec(index: number, name: string, over: Partial<ServedRecord> = {}): ServedRecord {
  const ind: Indicator = { type: 'domain', value: name };
  return {
    digest: indicatorDigest(ind), type: ind.type, value: ind.value, state: 'active', logIndex: index, proposerId: 'partner-b',
    window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' }, addedAt: new Date('2026-11-25T12:00:00.000Z'),
    meta: { tlp: 'green', confidence: 80, source: 'threatmesh/feed-a' }, ...over,
  };
}

/** A revoked copy of `r`, revoked at `index`. */
export function revoked(r: ServedRecord, index: number): ServedRecord {
  return { ...r, state: 'revoked', revokedAtIndex: index, revokedAt: new Date(r.addedAt.getTime() + 60_000), revocationWindow: { opensAt: '2026-11-26T10:00:00.000Z', closesAt: '2026-11-29T10:00:00.000Z' } };
}

/** A consumer (reads up to `maxTlp`; `contributor` also writes). */
export function consumer(name: string, maxTlp: Tlp, contributor = false): Consumer {
  return { name, maxTlp, tlps: tlpsUpTo(maxTlp), roles: new Set(contributor ? ['consumer', 'contributor'] : ['consumer']) };
}

/** The caller of `c` by token. */
export function caller(c: Consumer): Caller {
  return { consumer: c, via: 'token' };
}

/** A memory-backed TAXII and export setup over `records`. */
export function memoryDeps(records: ServedRecord[], opts: { maxPageSize?: number; proposals?: ProposalPort } = {}): { taxii: TaxiiDeps; exports: ExportDeps; reader: MemoryIndicatorReader; audit: MemoryAuditLog } {
  const reader = new MemoryIndicatorReader(records);
  const audit = new MemoryAuditLog();
  const now = (): Date => new Date('2026-11-27T00:00:00.000Z');
  const taxii: TaxiiDeps = {
    config: { title: 'Test', maxPageSize: opts.maxPageSize ?? 1000, maxContentLength: 4096 }, reader, catalog: new CollectionCatalog({ reader }), audit,
    statuses: new MemoryStatusStore(), now, ...(opts.proposals !== undefined ? { proposals: opts.proposals } : {}),
  };
  return { taxii, exports: { reader, audit, partnerId: 'partner-a', now }, reader, audit };
}

/** A loaded config with the given consumers, each with token `<name>-token-0123456789`. */
export async function configOf(specs: ReadonlyArray<{ name: string; maxTlp: Tlp; roles?: string[] }>): Promise<ServeConfig> {
  const doc = { consumers: specs.map((s) => ({ name: s.name, maxTlp: s.maxTlp, roles: s.roles ?? ['consumer'], tokens: [{ file: `/tokens/${s.name}` }] })) };
  return loadServeConfig(validateServeConfig(doc), (p) => Promise.resolve(`${p.slice('/tokens/'.length)}-token-0123456789\n`));
}
