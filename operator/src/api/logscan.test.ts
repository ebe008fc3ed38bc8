import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logScanKind } from './schemas/logscan.ts';
import type { SchemaNode } from './schemas/common.ts';
import { createValidators, validatorFor } from './validate.ts';

/** Every property path of a schema that lacks a description. */
function undescribed(node: SchemaNode, path: string, out: string[]): string[] {
  // metadata: the API server forbids anything but its type.
  if (path !== '' && path !== '.metadata' && typeof node['description'] !== 'string') out.push(path);
  for (const [k, v] of Object.entries((node['properties'] ?? {}) as Record<string, SchemaNode>)) undescribed(v, `${path}.${k}`, out);
  const items = node['items'] as SchemaNode | undefined;
  if (items !== undefined) undescribed(items, `${path}[]`, out);
  return out;
}

test('every field of the LogScan schema has a description (kubectl explain teaches the API)', () => {
  assert.deepEqual(undescribed(logScanKind.schema, '', []), []);
});

const base = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'LogScan', metadata: { name: 'dns', namespace: 'ns' } };
const s3 = { endpoint: 'http://127.0.0.1:7070', bucket: 'logs', prefix: 'zeek/', secretRef: { name: 's3' } };

test('LogScan validation', () => {
  const v = validatorFor(createValidators(), 'LogScan');
  const cases: Array<[string, Record<string, unknown>, RegExp | undefined]> = [
    ['file source', { source: { file: { path: '/var/log/zeek' } }, format: 'zeek' }, undefined],
    ['s3 prefix', { source: { s3 }, format: 'suricata-eve', priority: 20 }, undefined],
    ['two sources', { source: { file: { path: '/x' }, http: { url: 'http://x/y' } }, format: 'zeek' }, /exactly one of source/],
    ['no source', { source: {}, format: 'zeek' }, /exactly one of source/],
    ['s3 key and prefix', { source: { s3: { ...s3, key: 'a.log' } }, format: 'zeek' }, /exactly one of s3.key or s3.prefix/],
    ['unknown format', { source: { file: { path: '/x' } }, format: 'pcap' }, /format: must be one of/],
    ['time range backwards', { source: { file: { path: '/x' } }, format: 'zeek', timeRange: { start: '2024-05-02T00:00:00Z', end: '2024-05-01T00:00:00Z' } }, /end must be after/],
    ['priority 0', { source: { file: { path: '/x' } }, format: 'zeek', priority: 0 }, /priority/],
  ];
  for (const [name, spec, err] of cases) {
    const r = v.validate({ ...base, spec });
    if (err === undefined) assert.ok(r.ok, `${name}: ${r.ok ? '' : r.errors.join('; ')}`);
    else assert.ok(!r.ok && r.errors.some((e) => err.test(e)), `${name}: ${r.ok ? 'accepted' : r.errors.join('; ')}`);
  }
  const old = { ...base, spec: { source: { file: { path: '/x' } }, format: 'zeek' } };
  const changed = v.validate({ ...base, spec: { source: { file: { path: '/y' } }, format: 'zeek' } }, old);
  assert.ok(!changed.ok && changed.errors.some((e) => /immutable/.test(e)));
});
