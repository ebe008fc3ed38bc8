/**
 * Turns a Feed's spec (and the data of its credentials Secret) into an IngestionConfig: the
 * preset or the explicit mapping, the source, credentials and limits. Invalid specs fail with
 * FeedError('bad-config') saying what to change.
 */
import type { FeedMapping, FeedSpec, FieldSelector } from '../api/types.ts';
import { isIndicatorType, type IndicatorType } from '../domain/indicator.ts';
import type { ColumnRef } from './delimited.ts';
import type { Credentials, FetchOptions } from './fetch.ts';
import type { IngestionConfig, IngestSource } from './ingest.ts';
import { findPreset, PRESETS, type ParserConfig } from './presets.ts';
import { FeedError } from './types.ts';

/** Credentials from a Secret's (decoded) data: username+password → basic, token → bearer, header → "Name: value". */
export function credentialsFromSecret(data: Readonly<Record<string, string>>, key?: string): Credentials | undefined {
  if (key !== undefined) {
    const token = data[key];
    if (token === undefined) throw new FeedError('bad-config', `the credentials Secret has no key "${key}"`);
    return { kind: 'bearer', token: token.trim() };
  }
  const { username, password, token, header } = data;
  if (username !== undefined && password !== undefined) return { kind: 'basic', username, password };
  if (token !== undefined) return { kind: 'bearer', token: token.trim() };
  if (header !== undefined) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new FeedError('bad-config', 'the credentials Secret key "header" must look like "Name: value"');
    return { kind: 'header', name: header.slice(0, colon).trim(), value: header.slice(colon + 1).trim() };
  }
  throw new FeedError('bad-config', 'the credentials Secret needs keys username and password, or token, or header');
}

function column(sel: FieldSelector | undefined, what: string): ColumnRef | undefined {
  if (sel === undefined) return undefined;
  if (sel.index !== undefined) return sel.index;
  if (sel.column !== undefined) return sel.column;
  throw new FeedError('bad-config', `mapping.${what} of a csv feed needs column or index, not jsonPath`);
}

function jsonField(sel: FieldSelector | undefined, what: string): string | undefined {
  if (sel === undefined) return undefined;
  if (sel.jsonPath !== undefined) return sel.jsonPath;
  throw new FeedError('bad-config', `mapping.${what} of a json feed needs jsonPath`);
}

/** The parser described by a format and mapping (no preset). */
export function parserFromMapping(format: FeedSpec['format'], m: FeedMapping, type: IndicatorType | undefined): ParserConfig {
  switch (format) {
    case 'csv': {
      const value = column(m.value, 'value');
      if (value === undefined) throw new FeedError('bad-config', 'a csv feed needs mapping.value (column name or index)');
      return { format, csv: { delimiter: m.delimiter, header: m.header, comment: m.comment === undefined ? undefined : [m.comment], skipLines: m.skipLines, value, type: m.type === undefined ? type : undefined, typeColumn: column(m.type, 'type'), typeMap: m.typeMap } };
    }
    case 'lines':
      return { format, lines: { type, comment: m.comment === undefined ? undefined : [m.comment] } };
    case 'json':
    case 'jsonl': {
      const json = { valueField: jsonField(m.value, 'value'), typeField: jsonField(m.type, 'type'), type: m.type === undefined ? type : undefined, typeMap: m.typeMap };
      return format === 'json' ? { format, json: { ...json, itemsPath: m.itemsPath } } : { format, json };
    }
    default:
      return { format };
  }
}

function sourceOf(spec: FeedSpec, presetUrl: string | undefined): IngestSource {
  if (spec.taxii !== undefined) return { kind: 'taxii', discoveryUrl: spec.taxii.discoveryUrl, apiRoot: spec.taxii.apiRoot, collection: spec.taxii.collection };
  const url = spec.url ?? presetUrl;
  if (url === undefined) throw new FeedError('bad-config', 'the Feed needs spec.url or spec.taxii');
  return { kind: 'url', url };
}

/** Builds the IngestionConfig of a Feed. `secret` is the decoded data of spec.secretRef's Secret. */
export function feedToConfig(spec: FeedSpec, secret?: Readonly<Record<string, string>>, validators: Pick<FetchOptions, 'etag' | 'lastModified'> = {}): IngestionConfig {
  const defaultType = spec.defaults?.type;
  if (defaultType !== undefined && !isIndicatorType(defaultType)) throw new FeedError('bad-config', `defaults.type ${String(defaultType)} is not supported by ingestion`);
  let parser: ParserConfig;
  let presetUrl: string | undefined;
  if (spec.preset !== undefined) {
    const preset = findPreset(spec.preset);
    if (preset === undefined) throw new FeedError('bad-config', `unknown preset "${spec.preset}"; presets: ${Object.keys(PRESETS).join(', ')}`);
    if (preset.parser.format !== spec.format) throw new FeedError('bad-config', `preset ${preset.name} reads format ${preset.parser.format}, but the Feed says ${spec.format}`);
    parser = preset.parser;
    presetUrl = preset.url;
  } else {
    parser = parserFromMapping(spec.format, spec.mapping ?? {}, defaultType);
  }
  const credentials = spec.secretRef === undefined ? undefined : credentialsFromSecret(secret ?? {}, spec.secretRef.key);
  const fetch: FetchOptions = {
    ...validators,
    credentials,
    maxBytes: spec.limits?.maxBytes,
    timeoutMs: spec.limits?.timeoutSeconds === undefined ? undefined : spec.limits.timeoutSeconds * 1000,
  };
  return { source: sourceOf(spec, presetUrl), parser, fetch: stripUndefined(fetch) };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
