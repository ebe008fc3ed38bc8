import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { celEquivalent, createValidators, validatorFor, walkRules } from './validate.ts';
import { KINDS, crdManifest } from './schemas/index.ts';
import { toYaml } from '../codegen/crds.ts';

const validators = createValidators();
const root = new URL('../../../', import.meta.url);

function ti(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: 'x', namespace: 'n' }, spec };
}

function errorsOf(kind: string, obj: unknown, old?: unknown): readonly string[] {
  const r = validatorFor(validators, kind).validate(obj, old);
  return r.ok ? [] : r.errors;
}

describe('schemas', () => {
  test('every CEL rule has a JavaScript equivalent', () => {
    let count = 0;
    for (const def of KINDS) walkRules(def.schema, (_p, r) => { celEquivalent(r.rule); count++; });
    assert.ok(count >= 14, `only ${count} rules`);
  });

  test('committed crds/ match the TypeScript schemas', async () => {
    for (const def of KINDS) {
      const onDisk = await readFile(new URL(`crds/threatmesh.io_${def.plural}.yaml`, root), 'utf8');
      assert.equal(onDisk, toYaml([crdManifest(def)]), `crds/threatmesh.io_${def.plural}.yaml is stale: run npm run generate`);
    }
  });

  test('the samples validate', async () => {
    for (const f of ['feed-interval', 'feed-cron', 'partnernodes', 'threatindicator']) {
      const docs = parseAllDocuments(await readFile(new URL(`config/samples/${f}.yaml`, root), 'utf8'));
      for (const d of docs) {
        const o = d.toJS() as { kind: string };
        assert.deepEqual(errorsOf(o.kind, o), [], `${f}: ${o.kind}`);
      }
    }
  });
});

describe('date-time fields refuse impossible dates and times, as the API server does (trust model)', () => {
  const cases: Array<[string, boolean]> = [
    ['2026-11-25T12:00:00Z', true], ['2026-11-25t12:00:00.5z', true], ['2028-02-29T00:00:00+01:00', true],
    ['2026-04-31T00:00:00Z', false], ['2026-01-01T24:00:00Z', false], ['2026-02-29T00:00:00Z', false], ['2026-01-01T00:00:60Z', false], ['2026-01-01T00:00:00+25:00', false],
  ];
  for (const [validFrom, ok] of cases) {
    test(`spec.validFrom ${validFrom} ${ok ? 'accepted' : 'refused'}`, () => {
      const errs = errorsOf('ThreatIndicator', ti({ type: 'ipv4', value: '192.0.2.1', validFrom }));
      assert.equal(errs.length === 0, ok, errs.join('; '));
    });
  }
});

describe('ThreatIndicator values', () => {
  const cases: Array<[string, string, boolean]> = [
    ['ipv4', '192.0.2.1', true], ['ipv4', '192.0.2.01', false], ['ipv4', '256.1.1.1', false],
    ['ipv6', '2001:db8::1', true], ['ipv6', '2001:DB8::1', false],
    ['cidr', '192.0.2.0/24', true], ['cidr', '192.0.2.0', false],
    ['domain', 'example.com', true], ['domain', 'Example.com', false], ['domain', 'xn--bcher-kva.example', true], ['domain', 'localhost', false], ['domain', '-a.com', false],
    ['url', 'https://example.com/Path?q=1', true], ['url', 'HTTPS://example.com/', false], ['url', 'https://exa mple.com/', false],
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e', true], ['md5', 'D41D8CD98F00B204E9800998ECF8427E', false],
    ['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', true], ['sha1', 'da39a3ee', false],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', true], ['sha256', 'e3b0c442', false],
    ['email', 'Abuse@example.com', true], ['email', 'abuse@Example.com', false], ['email', 'abuse', false],
  ];
  for (const [type, value, ok] of cases) {
    test(`${type} ${value} ${ok ? 'accepted' : 'refused'}`, () => {
      const errs = errorsOf('ThreatIndicator', ti({ type, value }));
      assert.equal(errs.length === 0, ok, errs.join('; '));
      if (!ok) assert.match(errs.join('; '), new RegExp(`spec\\.value: an? ${type}`));
    });
  }

  test('spec is immutable on update', () => {
    const errs = errorsOf('ThreatIndicator', ti({ type: 'ipv4', value: '192.0.2.1' }), ti({ type: 'ipv4', value: '192.0.2.2' }));
    assert.deepEqual(errs, ['spec: spec is immutable: delete the ThreatIndicator and create a new one (its name is derived from the indicator digest)']);
    assert.deepEqual(errorsOf('ThreatIndicator', ti({ type: 'ipv4', value: '192.0.2.1' }), ti({ type: 'ipv4', value: '192.0.2.1' })), []);
  });

  test('validUntil after validFrom, unknown enum named', () => {
    assert.deepEqual(errorsOf('ThreatIndicator', ti({ type: 'ipv4', value: '192.0.2.1', validFrom: '2026-01-02T00:00:00Z', validUntil: '2026-01-01T00:00:00Z' })), ['spec.validUntil: validUntil must be after validFrom']);
    assert.match(errorsOf('ThreatIndicator', ti({ type: 'ip', value: '192.0.2.1' })).join(), /spec\.type: must be one of ipv4, ipv6/);
  });
});

describe('Feed and PartnerNode rules', () => {
  const feed = (spec: Record<string, unknown>) => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'f' }, spec });
  const pn = (spec: Record<string, unknown>) => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: 'p' }, spec: { partnerId: 'p', organization: 'P', endpoint: 'a.example:443', publicKey: 'rthmLVhiuU16KkbMUi6lc4MjyggzJCsL4O4sVFoxlog=', roles: ['voter'], ...spec } });
  const table: Array<[string, unknown, string | undefined]> = [
    ['interval and cron', feed({ url: 'https://x.example/f', format: 'lines', schedule: { interval: '1h', cron: '* * * * *' } }), 'spec.schedule: set exactly one of schedule.interval or schedule.cron'],
    ['neither interval nor cron', feed({ url: 'https://x.example/f', format: 'lines', schedule: {} }), 'spec.schedule: set exactly one of schedule.interval or schedule.cron'],
    ['url and taxii', feed({ url: 'https://x.example/f', taxii: { discoveryUrl: 'https://t.example/', collection: 'c' }, format: 'taxii', schedule: { interval: '1h' } }), 'spec: set exactly one of url or taxii'],
    ['two selectors', feed({ url: 'https://x.example/f', format: 'csv', mapping: { value: { column: 'a', index: 1 } }, schedule: { interval: '1h' } }), 'spec.mapping.value: set exactly one of column, index or jsonPath'],
    ['bad interval', feed({ url: 'https://x.example/f', format: 'lines', schedule: { interval: 'hourly' } }), 'spec.schedule.interval: must match pattern "^([0-9]{1,5}(d|h|m|s))+$"'],
    ['good feed', feed({ url: 'https://x.example/f', format: 'lines', schedule: { interval: '1h30m' } }), undefined],
    ['short key', pn({ publicKey: 'AAAA' }), 'spec.publicKey: publicKey must be a raw 32-byte Ed25519 key in standard base64: 44 characters ending in "="'],
    ['endpoint without port', pn({ endpoint: 'a.example' }), 'spec.endpoint: endpoint must be host:port with a lower-case DNS name, IPv4 or [IPv6] host and a port 1-65535, e.g. exchange.partner.example:8443'],
    ['port too big', pn({ endpoint: 'a.example:65536' }), 'spec.endpoint: endpoint must be host:port with a lower-case DNS name, IPv4 or [IPv6] host and a port 1-65535, e.g. exchange.partner.example:8443'],
    ['ipv6 endpoint', pn({ endpoint: '[2001:db8::1]:443' }), undefined],
    ['unknown role', pn({ roles: ['admin'] }), 'spec.roles.0: must be one of contributor, voter, consumer, sequencer'],
    ['sequencer alone', pn({ roles: ['sequencer'] }), undefined],
    ['sequencer with voter', pn({ roles: ['sequencer', 'voter'] }), 'spec.roles: the sequencer role cannot be combined with voter: the sequencer never votes; give the voter role to a partner PartnerNode'],
  ];
  for (const [name, obj, want] of table) {
    test(name, () => {
      const errs = errorsOf((obj as { kind: string }).kind, obj);
      if (want === undefined) assert.deepEqual(errs, []);
      else assert.ok(errs.includes(want), `${JSON.stringify(errs)} lacks ${want}`);
    });
  }
});
